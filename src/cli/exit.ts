/** The exit codes of `task-runtime`, documented in its `--help`. */
export const ExitCode = {
  /** The command did what it was asked. */
  OK: 0,
  /**
   * A task-level failure or refusal: a corrupt or unknown task, a store that cannot be used, a failed validation
   * (whatever is wrong with the file: unreadable, empty, truncated, not a task, not restorable).
   */
  FAILURE: 1,
  /**
   * A usage error: unknown command or option, a missing argument, a malformed option value. Only the command
   * line itself: what a file or store named on it holds is never a usage error.
   */
  USAGE: 2,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM; `demo` resumes from the store when started again. */
  INTERRUPTED: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The text `--help` shows about exit codes. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    ok
  1    task-level failure or refusal (corrupt or unknown task, unusable store, failed validation)
  2    usage error (unknown command or option, bad option value)
  130  interrupted (Ctrl-C); \`demo\` resumes from the store when started again`;

/** An error a command reports to the user as is (no stack trace), ending the process with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    /** The process exit code. @default ExitCode.FAILURE */
    readonly exitCode: ExitCode = ExitCode.FAILURE,
  ) {
    super(message);
  }
}
