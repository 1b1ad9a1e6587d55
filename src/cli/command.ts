// What a CLI command is, and the errors commands throw for main.ts to report.

/** A CLI command: its name, one-line usage and summary, full help and its runner. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  help: string;
  /** Resolves to the process exit code (undefined: the command keeps the process running). */
  run(args: string[]): Promise<number | undefined>;
}

/** Exit codes every command shares (see docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The work failed (a bad PDF, a file that could not be written, a server error). */
  failed: 1,
  /** Wrong arguments: an unknown flag, a flag's value out of range, an input that is not there. */
  usage: 2,
} as const;

/** Wrong arguments: printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** A failure the user can act on, printed as its message alone (no stack), exit code 1. */
export class CliError extends Error {}
