/**
 * Every failure a client can cause or see has a stable machine-readable code,
 * an HTTP status and a human message. The server turns these into
 * `{ success: false, error: { code, message } }`; the CLI prints them.
 */
export type ErrorCode =
  | 'no_file'
  | 'empty_file'
  | 'invalid_option'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_a_pdf'
  | 'encrypted_pdf'
  | 'incorrect_password'
  | 'damaged_pdf'
  | 'unreadable_pdf'
  | 'too_many_pages'
  | 'decompression_limit'
  | 'unauthorized'
  | 'headers_too_large'
  | 'malformed_request'
  | 'request_timeout'
  | 'not_found'
  | 'method_not_allowed'
  | 'queue_full'
  | 'draining'
  | 'not_ready'
  | 'low_memory'
  | 'restarting'
  | 'timeout'
  | 'cancelled'
  | 'out_of_memory'
  | 'memory_limit_document'
  | 'worker_crashed'
  | 'internal_error'
  | 'job_not_finished'
  | 'job_expired'
  | 'job_canceled'
  | 'store_full';

const STATUS: Record<ErrorCode, number> = {
  no_file: 400,
  empty_file: 400,
  invalid_option: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_a_pdf: 415,
  encrypted_pdf: 422,
  incorrect_password: 422,
  damaged_pdf: 422,
  unreadable_pdf: 422,
  too_many_pages: 422,
  decompression_limit: 422,
  unauthorized: 401,
  headers_too_large: 431,
  malformed_request: 400,
  request_timeout: 408,
  not_found: 404,
  method_not_allowed: 405,
  queue_full: 503,
  draining: 503,
  not_ready: 503,
  // The host is low on memory: refused before the upload was read, or ended below the critical mark.
  low_memory: 503,
  // This instance passed its memory limit and is about to be replaced: another instance answers.
  restarting: 503,
  timeout: 504,
  // The client went away (closed the connection, or aborted its upload): nobody reads the answer.
  cancelled: 499,
  out_of_memory: 422,
  // This document took server instances past their memory limit again and again: not retried.
  memory_limit_document: 422,
  worker_crashed: 500,
  internal_error: 500,
  job_not_finished: 409,
  job_expired: 410,
  job_canceled: 410,
  store_full: 507,
};

export class DocmarkError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying (503s). */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, options: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DocmarkError';
    this.code = code;
    this.status = STATUS[code];
    this.retryAfter = options.retryAfter;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isDocmarkError(err: unknown): err is DocmarkError {
  return err instanceof DocmarkError;
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}
