import { DEFAULT_STORE_DIR } from './options.js';

/** `text` quoted for a POSIX shell when it needs to be. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The ` --dir …` to repeat in a suggested command line; empty for the default directory. */
export function dirFlag(dir: string): string {
  return dir === DEFAULT_STORE_DIR ? '' : ` --dir ${shellQuote(dir)}`;
}
