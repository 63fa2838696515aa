/**
 * The package as users get it: `npm pack`ed, and installed into temporary projects without network, its
 * dependencies taken from this repository's node_modules (the versions the lockfile pins).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TempDirs } from '../support/tempDir.js';

/** The repository's root. */
export const ROOT = resolve(__dirname, '..', '..');

/** The TypeScript compiler of the repository, run on the consumers' projects. */
export const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface LockEntry {
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
}

const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  readonly packages: Readonly<Record<string, LockEntry>>;
};
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  readonly dependencies: Readonly<Record<string, string>>;
};

/** `names` and every package they depend on, transitively, as the lockfile installed them at the top level. */
function closure(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const pending = [...names];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue;
    const entry = lock.packages[`node_modules/${name}`];
    if (entry === undefined) throw new Error(`${name} is not in package-lock.json`);
    seen.add(name);
    pending.push(...Object.keys(entry.dependencies ?? {}));
  }
  return [...seen].sort();
}

/** Runs `npm pack` (dist as built by `npm run build`) into `dir`; returns the tarball's path. */
export function pack(dir: string): string {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` before the package tests');
  const output = execFileSync(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const [packed] = JSON.parse(output) as { filename: string }[];
  if (packed === undefined) throw new Error(`npm pack printed no file: ${output}`);
  return join(dir, packed.filename);
}

/** Copies the installed packages `names` (with what they depend on) from this repository into `project`. */
export function copyPackages(project: string, names: readonly string[]): void {
  for (const name of closure(names)) {
    const target = join(project, 'node_modules', name);
    cpSync(join(ROOT, 'node_modules', name), target, { recursive: true });
  }
}

/**
 * A new project that installed `tarball` with `npm install --offline` and an empty npm cache, so nothing can come
 * from the network: the dependencies are already in its node_modules, copied from this repository's. Optional peer
 * dependencies are not installed unless named in `extras`, which are copied after the install.
 */
export function installInNewProject(
  dirs: TempDirs,
  tarball: string,
  extras: readonly string[] = [],
): string {
  const project = dirs.make();
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  copyPackages(project, Object.keys(manifest.dependencies));
  execFileSync(
    'npm',
    [
      'install',
      '--offline',
      '--cache',
      join(dirname(tarball), 'empty-npm-cache'),
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      tarball,
    ],
    { cwd: project, encoding: 'utf8', stdio: 'pipe' },
  );
  copyPackages(project, extras);
  return project;
}
