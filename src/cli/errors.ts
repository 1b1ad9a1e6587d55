import { ConfigError } from '../config.js';
import { isDocmarkError, type DocmarkError } from '../errors.js';
import { CliError, EXIT, UsageError } from './command.js';

// How an error reaches a CLI user: one line, in the CLI's own words (its flags, not the HTTP
// API's option names), with the exit code the docs promise. Only a bug keeps its stack.

/** The HTTP API's option names and the `docmark convert` flags that set them. */
const FLAG_FOR_OPTION: Record<string, string> = {
  output_format: '--format',
  page_range: '--page-range',
  paginate_output: '--paginate',
  force_ocr: '--force-ocr',
  extract_images: '--extract-images',
  password: '--password',
};

/** File-system failures a user can fix, by Node's error code. */
const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ENOTEMPTY: 'is a folder that is not empty',
  EMFILE: 'too many open files',
};

export interface Reported {
  message: string;
  exitCode: number;
}

export function reportError(err: unknown): Reported {
  if (isDocmarkError(err)) {
    // A flag's value the engine refused is a wrong argument, like any other.
    const exitCode = err.code === 'invalid_option' ? EXIT.usage : EXIT.failed;
    return { message: `${inCliWords(err)} [${err.code}]`, exitCode };
  }
  if (err instanceof UsageError || err instanceof ConfigError || isParseArgsError(err))
    return { message: (err as Error).message, exitCode: EXIT.usage };
  if (err instanceof CliError) return { message: err.message, exitCode: EXIT.failed };
  const fileProblem = describeFileError(err);
  if (fileProblem) return { message: fileProblem, exitCode: EXIT.failed };
  return { message: `unexpected error (a bug: please report it with this trace)\n${(err as Error)?.stack ?? String(err)}`, exitCode: EXIT.failed };
}

function inCliWords(err: DocmarkError): string {
  if (err.code === 'encrypted_pdf') return 'The PDF is encrypted: give its password with --password.';
  if (err.code === 'incorrect_password') return 'The password given with --password does not open this PDF.';
  return err.message
    .replace(/(?:the )?"?\b(\w+)\b"? option/g, (whole, name: string) => FLAG_FOR_OPTION[name] ?? whole)
    .replace(/\b(output_format|page_range|paginate_output|force_ocr|extract_images)\b/g, (name: string) => FLAG_FOR_OPTION[name]);
}

function isParseArgsError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS');
}

/** `report.pdf: no such file or folder (ENOENT)`, for Node's file-system errors. */
function describeFileError(err: unknown): string | undefined {
  const e = err as { code?: unknown; path?: unknown; dest?: unknown };
  if (typeof e?.code !== 'string' || !Object.hasOwn(FILE_PROBLEMS, e.code)) return undefined;
  // A rename names both files; the one it could not write is the destination.
  const where = typeof e.dest === 'string' ? e.dest : typeof e.path === 'string' ? e.path : 'a file';
  return `${where}: ${FILE_PROBLEMS[e.code]} (${e.code})`;
}
