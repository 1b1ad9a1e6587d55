import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { setting } from '../../settings.js';
import { CliError, type Command, EXIT, UsageError } from '../command.js';
import { DEFAULT_SERVER, serverUrl } from '../input.js';

// `docmark job submit|status|result|cancel`: the asynchronous jobs API from the command line.
// Status and errors are printed as the server's JSON, so scripts can read them.

/** Between two status requests of `submit --wait` and `result --wait`. */
const POLL_MS = 1_000;
/** Longer than a PM2 restart or reload takes: --wait waits a server out for this long (the job is in its store). */
const UNREACHABLE_MS = 60_000;
const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

export const jobCommand: Command = {
  name: 'job',
  usage: 'job submit <pdf> | status <id> | result <id> | cancel <id> [--server URL]',
  summary: 'Submit a PDF as an asynchronous job, follow it, fetch its result, cancel it.',
  help: `Usage: docmark job <action> [options]

  job submit <pdf> [-f F] [--webhook URL] [--wait] [-o FILE]
      Upload the PDF to POST /jobs and print the job id (one line). --wait follows the job
      and then writes its result (stdout, or -o FILE) like \`job result\`.
  job status <id>     print the job's status document (JSON)
  job result <id> [-o FILE] [--wait]
      write the result (bare Markdown, or the JSON envelope for json/html) to stdout or FILE;
      --wait waits for the job to finish first
  job cancel <id>     cancel a queued or running job and delete its data

Options:
  -s, --server URL     the docmark server (default ${DEFAULT_SERVER}; any instance of it)
  -f, --format F       markdown (default) | json | html  (submit)
      --webhook URL    called when the job finishes (the server must allow its host)
      --wait           wait for the job to finish
  -o, --output FILE    where the result goes (default: stdout)

Stopping --wait (Ctrl-C) leaves the job to carry on on the server: \`job result <id> --wait\`
picks it up again (submit --wait prints the id on stderr first), \`job cancel <id>\` stops it.
--wait waits out a server that restarts (up to 60 s without an answer).

A server started with DOCMARK_API_KEY needs the same key: set DOCMARK_API_KEY here too.

Exit code: 0 when done (for --wait and result: the job succeeded), 1 when the job failed,
was canceled or the server refused, 2 for wrong arguments.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        server: { type: 'string', short: 's' },
        format: { type: 'string', short: 'f' },
        webhook: { type: 'string' },
        wait: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
      },
    });
    const [action, target, ...rest] = positionals;
    if (!action) throw new UsageError('job needs an action: submit, status, result or cancel.');
    if (!target || rest.length) throw new UsageError(`job ${action} takes exactly one ${action === 'submit' ? 'PDF' : 'job id'}.`);
    const api = new JobsClient(serverUrl(values.server ?? DEFAULT_SERVER), setting('DOCMARK_API_KEY') || undefined);
    switch (action) {
      case 'submit': {
        const format = (values.format ?? 'markdown').toLowerCase().replace(/^md$/, 'markdown');
        if (!['markdown', 'json', 'html'].includes(format)) throw new UsageError(`--format must be markdown, json or html; got "${values.format}".`);
        const stat = fs.statSync(target, { throwIfNoEntry: false });
        if (!stat?.isFile()) throw new UsageError(`${target}: no such file.`);
        const query = new URLSearchParams({ output_format: format, ...(values.webhook ? { webhook_url: values.webhook } : {}) });
        const job = await api.call('POST', `/jobs?${query}`, { body: fs.createReadStream(target), size: stat.size });
        if (!values.wait) {
          process.stdout.write(`${job.id}\n`);
          return EXIT.ok;
        }
        process.stderr.write(`docmark job: ${job.id}\n`);
        return writeResult(api, job.id, values.output, true);
      }
      case 'status':
        process.stdout.write(`${JSON.stringify(await api.call('GET', `/jobs/${jobId(target)}`), null, 2)}\n`);
        return EXIT.ok;
      case 'result':
        return writeResult(api, jobId(target), values.output, values.wait ?? false);
      case 'cancel': {
        const status = await api.call('DELETE', `/jobs/${jobId(target)}`);
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`Unknown job action "${action}": use submit, status, result or cancel.`);
    }
  },
};

async function writeResult(api: JobsClient, id: string, output: string | undefined, wait: boolean): Promise<number> {
  if (wait) {
    let last = '';
    let lastAnswer = Date.now();
    for (;;) {
      let status: { status: string; pages_done?: number; pages_total?: number | null };
      try {
        status = await api.call('GET', `/jobs/${id}`);
        lastAnswer = Date.now();
      } catch (err) {
        if (!(err instanceof TransientError) || Date.now() - lastAnswer > UNREACHABLE_MS) throw err;
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      const line = `${status.status}${status.pages_total ? ` ${status.pages_done}/${status.pages_total} pages` : ''}`;
      if (line !== last && process.stderr.isTTY) process.stderr.write(`\rdocmark job: ${line}   `);
      last = line;
      if (FINISHED.has(status.status)) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
  const res = await api.fetch('GET', `/jobs/${id}/result`, { accept: 'text/markdown, application/json;q=0.9' });
  if (!res.ok) throw await api.failure(res);
  const text = await res.text();
  if (output) {
    // Written aside and renamed: a file at `output` is a whole result, never half of one.
    const aside = `${output}.${process.pid}.docmark-partial`;
    fs.writeFileSync(aside, text);
    fs.renameSync(aside, output);
  } else process.stdout.write(text);
  return EXIT.ok;
}

/** The server could not be reached, or answered that it is busy or restarting: worth asking again. */
class TransientError extends CliError {}

class JobsClient {
  constructor(
    private readonly server: string,
    private readonly apiKey: string | undefined,
  ) {}

  async fetch(method: string, path: string, headers: Record<string, string> = {}, body?: { body: fs.ReadStream; size: number }): Promise<Response> {
    try {
      return await fetch(`${this.server}${path}`, {
        method,
        headers: {
          ...headers,
          ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
          ...(body ? { 'content-type': 'application/pdf', 'content-length': String(body.size) } : {}),
        },
        // A file stream as the body (undici takes async iterables), sent as it is read.
        ...(body ? { body: body.body, duplex: 'half' } : {}),
      } as unknown as RequestInit);
    } catch (err) {
      throw new TransientError(`Could not reach ${this.server}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    }
  }

  /** A JSON call; a refusal becomes a CliError with the server's message. */
  async call(method: string, path: string, body?: { body: fs.ReadStream; size: number }): Promise<any> {
    const res = await this.fetch(method, path, { accept: 'application/json' }, body);
    if (!res.ok) throw await this.failure(res);
    return res.json();
  }

  async failure(res: Response): Promise<CliError> {
    const text = await res.text().catch(() => '');
    const Failure = [502, 503, 504].includes(res.status) ? TransientError : CliError;
    try {
      const { error } = JSON.parse(text) as { error: { code: string; message: string } };
      return new Failure(`${error.code}: ${error.message}`);
    } catch {
      return new Failure(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
  }
}

function jobId(raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new UsageError(`"${raw.slice(0, 80)}" is not a job id.`);
  return raw;
}
