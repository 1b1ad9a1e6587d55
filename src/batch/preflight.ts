import { Agent, request } from 'undici';

// Before any work: ask every server's /health. A server that does not answer is a typo or a
// service that is not started, and a batch that found out by retrying each file would look busy
// for minutes; it stops at once instead. The answers also say how many conversions each host
// runs at once, which sets the batch's default concurrency.

export interface ServerCapacity {
  url: string;
  /** Conversions this server (host) runs at once. */
  runsAtOnce: number;
  /** Server instances on the host. */
  instances: number;
  /** Requests the batch keeps in flight to it by default: runsAtOnce + one waiting per instance. */
  concurrency: number;
  /** Where the figures came from. */
  source: 'capacity' | 'workers' | 'default';
}

export class NoServerError extends Error {}

/** /health is cheap by design: a server that takes longer than this is not one to send work to. */
const HEALTH_TIMEOUT_MS = 5000;
/** A health answer is a few KB of JSON; more is not a docmark server's. */
const MAX_HEALTH_BYTES = 256 * 1024;
/** A server that advertises nothing (an older docmark) is assumed to run this many at once. */
const FALLBACK_RUNS_AT_ONCE = 2;
/**
 * Requests kept waiting at each instance beside the ones it converts: the next upload travels while
 * the workers finish, so no worker idles between two conversions (PM2 hands connections to its
 * instances in turn, whatever their load, so one waiting request per instance, not per host).
 */
const WAITING_PER_INSTANCE = 1;
/** Above this, an advertised figure is not believed (the batch's own ceiling). */
const MAX_CONCURRENCY = 256;

interface HealthAnswer {
  status?: unknown;
  capacity?: { concurrency?: unknown; instances?: unknown };
  converter?: { workers?: unknown };
}

export async function checkServers(urls: string[], timeoutMs = HEALTH_TIMEOUT_MS): Promise<ServerCapacity[]> {
  // Its own connections, closed once answered: the batch's pool starts afresh.
  const agent = new Agent();
  const answers = await Promise.all(urls.map((url) => askHealth(agent, url, timeoutMs))).finally(() => agent.destroy());
  const problems = answers.filter((a): a is { problem: string } => 'problem' in a).map((a) => a.problem);
  if (problems.length) throw new NoServerError(problems.join('\n'));
  return answers as ServerCapacity[];
}

async function askHealth(agent: Agent, url: string, timeoutMs: number): Promise<ServerCapacity | { problem: string }> {
  const hint = 'start one with `npm start` or pass --server';
  let status: number;
  let text = '';
  try {
    const res = await request(`${url}/health`, {
      dispatcher: agent,
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.statusCode;
    for await (const chunk of res.body) {
      text += chunk.toString('utf8');
      if (text.length > MAX_HEALTH_BYTES) {
        res.body.destroy();
        break;
      }
    }
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string }; name?: string };
    const why = e.name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000} s` : (e.code ?? e.cause?.code ?? String(err));
    return { problem: `no docmark server at ${url} (${why}) — ${hint}` };
  }
  let health: HealthAnswer | undefined;
  try {
    health = JSON.parse(text) as HealthAnswer;
  } catch {
    health = undefined;
  }
  if (status !== 200 || typeof health?.status !== 'string') {
    return { problem: `no docmark server at ${url} (its /health answered HTTP ${status}${health ? '' : ', not JSON'}) — ${hint}` };
  }
  return { url, ...advertisedConcurrency(health) };
}

/**
 * What the host runs at once — `capacity.concurrency` (the whole host, with `capacity.instances`), else
 * the instance's worker count, else a guess — and the requests to keep in flight for it: that plus
 * one waiting per instance.
 */
export function advertisedConcurrency(health: HealthAnswer): Omit<ServerCapacity, 'url'> {
  const valid = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_CONCURRENCY;
  const of = (runsAtOnce: number, instances: number, source: ServerCapacity['source']): Omit<ServerCapacity, 'url'> => ({
    runsAtOnce,
    instances,
    concurrency: Math.min(MAX_CONCURRENCY, runsAtOnce + instances * WAITING_PER_INSTANCE),
    source,
  });
  const host = health.capacity?.concurrency;
  const instances = health.capacity?.instances;
  // Instances beyond the conversions they run would be instances without a worker: not believed.
  if (valid(host)) return of(host, valid(instances) && instances <= host ? instances : 1, 'capacity');
  const workers = health.converter?.workers;
  if (valid(workers)) return of(workers, 1, 'workers');
  return of(FALLBACK_RUNS_AT_ONCE, 1, 'default');
}

/** The batch's default concurrency: what all the servers keep in flight, together. */
export function totalConcurrency(servers: ServerCapacity[]): number {
  return Math.min(
    MAX_CONCURRENCY,
    servers.reduce((sum, s) => sum + s.concurrency, 0),
  );
}
