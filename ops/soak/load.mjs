// Concurrent clients, each converting one input after another until told to stop. Every request's
// outcome is appended to outcomes.jsonl (flat memory over hours) and counted.
import fs from 'node:fs';
import { convertWithRetry } from './client.mjs';

/**
 * Whether an answer is right for what was sent: a document converts; a bad or hostile input gets
 * either a conversion or a clear client error. A 5xx or no answer after every retry is a failure.
 * @param {'ok' | 'answer'} expect @param {{ status: number }} final
 */
export function judge(expect, final) {
  if (final.status === 200) return true;
  return expect === 'answer' && final.status >= 400 && final.status < 500;
}

/**
 * @param {{ url: string, clients: number, pick: () => import('./inputs.mjs').Input, outcomesFile: string, t0: number }} options
 */
export function startLoad({ url, clients, pick, outcomesFile, t0 }) {
  const out = fs.createWriteStream(outcomesFile, { flags: 'a' });
  const counts = {
    requests: 0,
    ok: 0,
    failed: 0,
    retried: 0,
    retried_ok: 0,
    by_kind: /** @type {Record<string, { ok: number, failed: number }>} */ ({}),
  };
  /** @type {Array<Record<string, unknown>>} */
  const failures = [];
  let running = true;

  const loop = async () => {
    while (running) {
      const input = pick();
      const { attempts, final } = await convertWithRetry(`${url}/convert${input.query ?? ''}`, input, { stopped: () => !running });
      // A request cut short because the soak ended is not an outcome of the service.
      if (!running && !judge(input.expect, final)) break;
      const ok = judge(input.expect, final);
      const line = {
        t: Math.round((Date.now() - t0) / 1000),
        kind: input.kind,
        name: input.name,
        status: final.status,
        code: final.code ?? final.error ?? null,
        ms: attempts.reduce((s, a) => s + a.ms, 0),
        attempts: attempts.length,
        ...(attempts.length > 1 ? { retried: attempts.slice(0, -1).map((a) => a.code ?? a.error ?? a.status) } : {}),
        ok,
      };
      out.write(`${JSON.stringify(line)}\n`);
      counts.requests++;
      counts.by_kind[input.kind] ??= { ok: 0, failed: 0 };
      if (ok) {
        counts.ok++;
        counts.by_kind[input.kind].ok++;
      } else {
        counts.failed++;
        counts.by_kind[input.kind].failed++;
        if (failures.length < 200) failures.push(line);
      }
      if (attempts.length > 1) {
        counts.retried++;
        if (ok) counts.retried_ok++;
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);

  return {
    counts,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
      await new Promise((r) => out.end(r));
    },
  };
}
