/** A CLI command: its name, one-line usage and summary, full help and its runner. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  help: string;
  /** Resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Wrong arguments: printed without a stack, exit code 2. */
export class UsageError extends Error {}
