import http from 'node:http';
import type { Duplex } from 'node:stream';
import { DocmarkError } from '../errors.js';

// A request Node's HTTP parser refuses before any route sees it (headers or a query string over
// the header size limit, a malformed request line or header, a request that took too long to
// arrive) still gets the service's JSON error body, not Node's bare status line.

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Nothing to answer on a connection the client has gone from, or left in the middle of a
  // body (its request has had its answer, a 413, or will never be complete).
  const answering = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return;
  }
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new DocmarkError(
          'headers_too_large',
          'The request line and headers are larger than this server accepts (16 KB): send options as form fields, not in a long query string.',
        )
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new DocmarkError('request_timeout', 'The request did not arrive in time.')
        : new DocmarkError('malformed_request', 'The HTTP request is malformed and could not be read.');
  const body = JSON.stringify({ success: false, error: error.toJSON() });
  socket.end(
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
