// GET /openapi.json: the HTTP API described as OpenAPI 3.1 (JSON Schema 2020-12), from the same
// error table the server answers with. test/web-openapi.test.ts produces every documented status
// on a real server and validates each answer against its schema; /docs renders this document.
import type Koa from 'koa';
import { type ErrorCode, statusOf } from '../../errors.js';
import { OPTION_NAMES } from '../../engine/options.js';

/** Every error code with when it happens. A Record over ErrorCode: a new code does not compile until it is described here. */
export const ERROR_CODES: Record<ErrorCode, string> = {
  no_file: 'No `file` field, or an empty request body.',
  empty_file: 'The file has 0 bytes.',
  invalid_option: 'An option has a bad value, or `page_range` names a page outside the document.',
  payload_too_large: 'The upload is over `DOCMARK_MAX_UPLOAD_MB`; reading stops at the limit.',
  unsupported_media_type: 'The request body is of a type the server does not read.',
  not_a_pdf: 'No `%PDF-` signature in the first 1 KB.',
  encrypted_pdf: 'The PDF is encrypted and no `password` was sent.',
  incorrect_password: 'The `password` does not open the PDF.',
  damaged_pdf: 'Truncated or corrupt beyond repair, or no page can be read.',
  unreadable_pdf: 'Any other failure to read the document.',
  too_many_pages: 'More pages than `DOCMARK_MAX_PAGES`.',
  decompression_limit: 'The document (or a page of it) decompresses to more than `DOCMARK_MAX_INFLATE_MB`.',
  unauthorized: '`DOCMARK_API_KEY` is set and the bearer token is missing or wrong.',
  headers_too_large: 'The request line and headers are over 16 KB (a long query string: send options as form fields).',
  malformed_request: 'The HTTP request itself could not be parsed (a bad request line, header or length).',
  request_timeout: 'The request did not arrive in time (connection-level: answered on any route).',
  not_found: 'No such route (the message lists the routes).',
  method_not_allowed: 'The route exists but not for this method; `Allow` lists the right ones.',
  queue_full: 'Every worker is busy and the queue is full: retry after `Retry-After` seconds.',
  draining: 'This instance is restarting: retry after `Retry-After` seconds (another instance answers).',
  low_memory:
    'The host is low on available memory (`DOCMARK_MIN_FREE_MB`): refused before the upload is read, or, below `DOCMARK_CRITICAL_FREE_MB`, the largest running conversion was ended.',
  restarting:
    'This instance passed its memory limit (`DOCMARK_MAX_MEMORY`) and is being replaced: refused before the upload is read, or a running conversion was ended after `DOCMARK_MEMORY_GRACE_S`. Retry after `Retry-After` seconds (another instance answers).',
  not_ready: 'No conversion worker of this instance is ready yet (`GET /ready` only): retry after `Retry-After` seconds.',
  timeout: 'The conversion took longer than `DOCMARK_TIMEOUT_S` (plus `DOCMARK_OCR_PAGE_S` for each page read with OCR).',
  cancelled: 'The client left before its answer: logged and counted with this code, never sent.',
  out_of_memory: "The conversion needed more than a worker's heap (`DOCMARK_WORKER_HEAP_MB`); only its worker was ended.",
  memory_limit_document:
    'This PDF (with these pages and OCR option) was converting when server instances passed their memory limit `DOCMARK_MAX_MEMORY` `DOCMARK_MEMORY_STRIKES` times in 24 h: not retried. Convert a smaller `page_range`, or raise the limit.',
  worker_crashed: 'The worker thread died for another reason; it is replaced.',
  internal_error: 'A bug: the server failed to handle the request (it keeps serving).',
  job_not_finished: 'The job has no result yet (`GET /jobs/{id}/result` while queued or running).',
  job_expired: 'The job finished longer ago than `DOCMARK_JOB_TTL_H`: its result is gone.',
  job_canceled: 'The job was canceled (`DELETE /jobs/{id}`): it has no result.',
  store_full: 'The job store is at `DOCMARK_DATA_MAX_GB`: no new job is taken until results expire or are fetched and deleted.',
};

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** The codes answered with one HTTP status. */
export const codesWithStatus = (status: number): ErrorCode[] => ALL_CODES.filter((c) => statusOf(c) === status);

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = (description?: string): Schema => ({ type: 'integer', minimum: 0, ...(description ? { description } : {}) });
const num = { type: 'number' };
const str = { type: 'string' };
const nullable = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({ type: 'object', properties, required });
const json = (schema: Schema): Schema => ({ 'application/json': { schema } });

/** An error answer whose code is one of those with this status. */
function errorResponse(status: number, description: string): Schema {
  return {
    description: `${description} Codes: ${codesWithStatus(status)
      .map((c) => `\`${c}\``)
      .join(', ')}.`,
    content: json({
      allOf: [ref('Error'), { properties: { error: { properties: { code: { enum: codesWithStatus(status) } } } } }],
    }),
  };
}

const jobId = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } };

/** A PDF as a multipart form (field `file`, options as fields) or as the raw body. */
const pdfBody = (extraFields: Record<string, Schema> = {}): Schema => ({
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['file'],
        properties: { file: { type: 'string', contentMediaType: 'application/pdf' }, ...extraFields, ...formFields },
      },
    },
    'application/pdf': { schema: { type: 'string', contentMediaType: 'application/pdf' } },
  },
});

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } };

const OPTION_DOCS: Record<(typeof OPTION_NAMES)[number], Schema> = {
  output_format: { type: 'string', enum: ['markdown', 'json', 'html'], default: 'markdown', description: '`json` is the block tree as a string.' },
  page_range: { type: 'string', pattern: '^[0-9, -]+$', description: '0-based pages and inclusive ranges, e.g. `0,2-4`. Default: all pages.' },
  paginate_output: { type: 'boolean', default: false, description: 'Put `{N}------…` before each page after the first (Markdown).' },
  force_ocr: { type: 'boolean', default: false, description: 'OCR every page even when it has a text layer.' },
  extract_images: { type: 'boolean', default: false, description: 'Return the page images (base64 PNG) with the result.' },
  password: { type: 'string', description: 'Password of an encrypted PDF.' },
};

const page = (summary: string): Schema => ({
  get: {
    summary,
    tags: ['pages'],
    responses: { 200: { description: 'An HTML page (its scripts and styles are files under /assets).', content: { 'text/html': { schema: str } } } },
  },
});

const timeSeries = (description: string, arity: number): Schema => ({
  type: 'array',
  description,
  items: { type: 'array', prefixItems: Array(arity).fill(num), minItems: arity, maxItems: arity },
});

const components = {
  securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Only when the server has `DOCMARK_API_KEY` set.' } },
  schemas: {
    Error: {
      type: 'object',
      required: ['success', 'error'],
      properties: {
        success: { const: false },
        error: obj({ code: { type: 'string', enum: ALL_CODES }, message: str }),
      },
    },
    ConvertResult: {
      type: 'object',
      required: ['success', 'output_format', 'output', 'metadata'],
      properties: {
        success: { const: true },
        output_format: { enum: ['markdown', 'json', 'html'] },
        output: { type: 'string', description: 'The Markdown, the HTML fragment, or the block tree as JSON text.' },
        images: {
          type: 'array',
          items: obj({ id: str, page: int('0-based page.'), data: { type: 'string', contentEncoding: 'base64' }, mime: { const: 'image/png' } }),
        },
        metadata: {
          type: 'object',
          required: ['pages', 'page_count', 'duration_ms', 'ocr_pages', 'failed_pages', 'filename'],
          properties: {
            pages: int('Pages converted.'),
            page_count: int('Pages in the file.'),
            duration_ms: num,
            ocr_pages: { type: 'array', items: int(), description: '0-based pages whose text came from OCR.' },
            failed_pages: {
              type: 'array',
              description: 'Pages that could not be read (the rest was converted); 0-based.',
              items: obj({ page: int(), code: { type: 'string', enum: ALL_CODES }, message: str }),
            },
            filename: nullable(str),
            title: str,
            author: str,
          },
        },
      },
    },
    Health: {
      type: 'object',
      required: [
        'status',
        'pid',
        'uptime_s',
        'conversions',
        'conversion_failures',
        'in_flight',
        'memory_usage_gb',
        'memory',
        'converter',
        'limits',
        'host',
      ],
      properties: {
        status: { enum: ['ok', 'draining', 'low_memory'] },
        leaving: nullable({ enum: ['conversion_limit', 'cron', 'memory_limit', 'signal', 'shutdown_message'] }),
        pid: int(),
        instance: nullable(str),
        uptime_s: int(),
        conversions: int(),
        conversion_failures: int(),
        in_flight: int(),
        memory_usage_gb: num,
        memory: obj({ rss_mb: int(), heap_used_mb: int(), heap_total_mb: int(), external_mb: int(), array_buffers_mb: int() }),
        converter: { type: 'object', required: ['kind', 'busy', 'queued'], properties: { kind: str, busy: int(), queued: int() } },
        capacity: obj({ workers: int(), instances: int(), ocr_threads: int(), concurrency: int('Conversions the host runs at once.') }),
        limits: { type: 'object', required: ['max_conversions', 'max_upload_mb', 'max_pages', 'timeout_s', 'max_memory'] },
        host: { type: 'object', required: ['cpu_count', 'load_1m'] },
      },
    },
    JobStatus: {
      type: 'object',
      required: ['id', 'status', 'pages_done', 'pages_total', 'queue_position', 'created_at', 'started_at', 'finished_at', 'error'],
      properties: {
        id: str,
        status: { enum: ['queued', 'running', 'succeeded', 'failed', 'canceled'] },
        pages_done: int(),
        pages_total: nullable(int()),
        queue_position: nullable(int('0 = next.')),
        created_at: str,
        started_at: nullable(str),
        finished_at: nullable(str),
        expires_at: nullable(str),
        error: nullable(obj({ code: str, message: str })),
      },
    },
    Instance: obj({
      instance: nullable(int('PM2 instance index.')),
      pid: int(),
      started_at: { type: 'string', format: 'date-time' },
      updated_at: { type: 'string', format: 'date-time' },
      uptime_s: int(),
      state: { enum: ['serving', 'draining'] },
      conversions: int(),
      failures: int(),
      in_flight: int(),
      busy_workers: int(),
      workers: int(),
      queued: int(),
      rss_mb: int(),
      failures_by_code: { type: 'object', additionalProperties: int() },
    }),
    HostStatus: obj({
      generated_at: { type: 'string', format: 'date-time' },
      app: str,
      window_s: int('Span of the series.'),
      memory_limit_mb: int("PM2's max_memory_restart, MB."),
      instances: { type: 'array', items: ref('Instance') },
      queue: obj({ queued: int(), in_flight: int(), busy_workers: int(), workers: int() }),
      rss: {
        type: 'array',
        items: obj({ instance: nullable(int()), points: timeSeries('[unix ms, RSS MB, pid], oldest first.', 3) }),
      },
      conversions_per_minute: timeSeries('[unix ms of the minute, conversions, failures], whole host.', 3),
      failures_by_code: { type: 'object', additionalProperties: int(), description: 'Failures since each live instance started, by code.' },
      restarts: obj({
        available: { type: 'boolean', description: 'False when there is no restart log (restart logger not running).' },
        total: int(),
        mean_interval_s: nullable(num),
        first: nullable(str),
        by_cause: { type: 'array', items: obj({ cause: str, count: int(), mean_interval_s: nullable(num) }) },
        recent: {
          type: 'array',
          items: obj({ time: str, cause: str, instance: nullable(int()), old_pid: nullable(int()), new_pid: nullable(int()), rss_mb: nullable(num) }),
        },
      }),
      jobs: nullable({ type: 'object', additionalProperties: int() }),
    }),
  },
};

const convertParameters = OPTION_NAMES.map((name) => ({
  name,
  in: 'query',
  required: false,
  schema: OPTION_DOCS[name],
  description: OPTION_DOCS[name].description,
}));

const formFields = Object.fromEntries(OPTION_NAMES.map((name) => [name, { type: 'string', description: OPTION_DOCS[name].description }]));

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'docmark',
    version: '0.1.0',
    description:
      'PDF to Markdown, HTML or a JSON block tree. Every error is `{ success: false, error: { code, message } }` with one of the codes in `x-error-codes`; ' +
      'an unknown route answers 404 `not_found` and a wrong method 405 `method_not_allowed` (with `Allow`).',
  },
  'x-error-codes': ALL_CODES.map((code) => ({ code, status: statusOf(code), when: ERROR_CODES[code] })),
  tags: [
    { name: 'convert', description: 'Conversion.' },
    { name: 'jobs', description: 'Asynchronous conversion: submit, poll or follow, fetch, cancel.' },
    { name: 'operations', description: 'Health, metrics and the host status.' },
    { name: 'pages', description: 'The browser pages and their files.' },
  ],
  paths: {
    '/convert': {
      post: {
        summary: 'Convert a PDF',
        tags: ['convert'],
        description:
          'Send the PDF as `multipart/form-data` (field `file`, options as fields) or as the raw body (options in the query). ' +
          'The file is recognised by its `%PDF-` signature. A request with `X-Docmark-Heartbeat: 1` gets `102 Processing` every 10 s until the answer.',
        security: [{}, { bearer: [] }],
        parameters: convertParameters,
        requestBody: pdfBody(),
        responses: {
          200: {
            description: 'Converted. With `Accept: text/markdown` (and Markdown output) the body is the Markdown itself.',
            headers: {
              'X-Docmark-Pages': { description: 'Pages converted (bare Markdown only).', schema: { type: 'integer' } },
              'X-Docmark-Failed-Pages': { description: 'Comma-separated 0-based pages that could not be read (bare Markdown only).', schema: str },
            },
            content: { ...json(ref('ConvertResult')), 'text/markdown': { schema: str } },
          },
          400: errorResponse(400, 'No file, an empty file or a bad option.'),
          401: { ...errorResponse(401, 'API key missing or wrong.'), headers: { 'WWW-Authenticate': { schema: str } } },
          413: errorResponse(413, 'Upload too large.'),
          431: errorResponse(431, 'Request line and headers too large.'),
          415: errorResponse(415, 'Not a PDF.'),
          422: errorResponse(422, 'A PDF that cannot be converted as sent.'),
          500: errorResponse(500, 'The conversion failed on the server side.'),
          503: { ...errorResponse(503, 'Busy or restarting.'), headers: retryAfter },
          504: errorResponse(504, 'Too slow.'),
        },
      },
    },
    '/jobs': {
      post: {
        summary: 'Submit a PDF as an asynchronous job',
        tags: ['jobs'],
        description:
          'The same body and options as `POST /convert`, plus an optional `webhook_url` (to a host allowed by `DOCMARK_WEBHOOK_ALLOW`). ' +
          'Answers once the upload is stored; any instance of the host (or of every host sharing a Redis store) answers for the job from then on.',
        security: [{}, { bearer: [] }],
        parameters: convertParameters,
        requestBody: pdfBody({ webhook_url: str }),
        responses: {
          202: {
            description: 'Stored and queued.',
            headers: { Location: { description: 'The status URL.', schema: str } },
            content: json(obj({ id: str, status: { const: 'queued' }, status_url: str, result_url: str, events_url: str })),
          },
          400: errorResponse(400, 'No file, an empty file, a bad option or a refused webhook_url.'),
          415: errorResponse(415, 'Not a PDF.'),
        },
      },
    },
    '/jobs/{id}': {
      get: {
        summary: "A job's status",
        parameters: [jobId],
        tags: ['jobs'],
        responses: { 200: { description: 'The status document.', content: json(ref('JobStatus')) }, 404: errorResponse(404, 'No such job.') },
      },
      delete: {
        summary: 'Cancel a job and delete its data',
        parameters: [jobId],
        tags: ['jobs'],
        description: 'A running job stops at its next page or OCR stage; a finished job is left as it is.',
        responses: {
          200: { description: 'The status document after the cancel.', content: json(ref('JobStatus')) },
          404: errorResponse(404, 'No such job.'),
        },
      },
    },
    '/jobs/{id}/result': {
      get: {
        summary: "A finished job's result: exactly what `POST /convert` would have answered",
        parameters: [jobId],
        tags: ['jobs'],
        description: 'Format negotiation as for `/convert`; a failed job answers its conversion error (4xx/5xx with the codes of `/convert`).',
        responses: {
          200: { description: 'The result.', content: { ...json(ref('ConvertResult')), 'text/markdown': { schema: str } } },
          409: { ...errorResponse(409, 'Not finished yet.'), headers: retryAfter },
          410: errorResponse(410, 'Canceled, or expired after `DOCMARK_JOB_TTL_H`.'),
        },
      },
    },
    '/jobs/{id}/events': {
      get: {
        summary: "A job's status changes and page progress as Server-Sent Events",
        parameters: [jobId],
        tags: ['jobs'],
        description:
          'Events `status` (the status document) and `progress` (`{id, pages_done, pages_total}`); the stream ends after the final status.',
        responses: { 200: { description: 'The event stream.', content: { 'text/event-stream': { schema: str } } } },
      },
    },
    '/health': {
      get: {
        summary: "This instance's health",
        tags: ['operations'],
        description: 'Cheap by design: counters and the last background host sample.',
        responses: { 200: { description: 'Healthy or draining.', content: json(ref('Health')) } },
      },
    },
    '/ready': {
      get: {
        summary: 'Whether this instance takes work now (readiness probe)',
        tags: ['operations'],
        description: '503 while draining or before a conversion worker is ready; `/health` is the liveness probe.',
        responses: {
          200: {
            description: 'Ready.',
            content: json(obj({ status: { const: 'ready' }, ready_workers: int(), busy: int(), queued: int() })),
          },
          503: { ...errorResponse(503, 'Draining or not ready yet.'), headers: retryAfter },
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics of this instance',
        tags: ['operations'],
        responses: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: str } } } },
      },
    },
    '/status.json': {
      get: {
        summary: 'The whole host: every instance, RSS history, restarts',
        tags: ['operations'],
        description: "Any instance answers for all instances of its app on this host (they share small files in PM2's home).",
        responses: { 200: { description: 'The host status.', content: json(ref('HostStatus')) } },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        tags: ['operations'],
        responses: { 200: { description: 'OpenAPI 3.1.', content: json({ type: 'object', required: ['openapi', 'paths'] }) } },
      },
    },
    '/': page('Try it: drop a PDF, see its pages beside the result'),
    '/status': page('Watch it: instances, memory over time, restarts'),
    '/docs': page('This reference, rendered'),
    '/assets/{file}': {
      get: {
        summary: "A file the pages load (from a fixed list: the pages' own scripts and styles, pdfjs, marked, DOMPurify, uPlot)",
        tags: ['pages'],
        parameters: [{ name: 'file', in: 'path', required: true, schema: str }],
        responses: {
          200: { description: 'The file, with `ETag` and `Cache-Control`.', content: { '*/*': { schema: str } } },
          304: { description: 'Not modified (`If-None-Match` matched the `ETag`).' },
          404: errorResponse(404, 'Not one of the files.'),
        },
      },
    },
  },
  components,
};

export function openapiRoutes(): Record<string, Record<string, Koa.Middleware>> {
  const body = JSON.stringify(OPENAPI);
  return {
    '/openapi.json': {
      GET: (ctx) => {
        ctx.set('Cache-Control', 'no-cache');
        ctx.type = 'application/json';
        ctx.body = body;
      },
    },
  };
}
