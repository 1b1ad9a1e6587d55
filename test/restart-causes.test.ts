import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { busTrace } from './helpers/jsonl.ts';

// Restart causes the soak's restart log got wrong, on recorded PM2 7.0.4 bus traces changed the
// way a busy cluster changes them: a kill -9 after hints left by an earlier stop, and the app's
// own exit past its memory limit.

const require = createRequire(import.meta.url);
const { classify } = require('../ops/restart-logger/classify.js') as {
  classify(events: Event[], options?: { settleMs?: number }): Array<{ cause: string; signal: string | null }>;
};

interface Event {
  type: string;
  data: any;
}

const trace = (scenario: string): Event[] => busTrace(scenario);

/** The index of the first event that matches. */
const indexOf = (events: Event[], match: (e: Event) => boolean): number => {
  const i = events.findIndex(match);
  assert.ok(i >= 0, 'the trace has the event');
  return i;
};

describe('restart causes: kill -9 and the memory limit', () => {
  it('the recorded kill -9 trace is two outside signals (SIGTERM, SIGKILL)', () => {
    const records = classify(trace('signal'));
    assert.deepEqual(
      records.map((r) => [r.cause, r.signal]),
      [
        ['signal', 'SIGTERM'],
        ['signal', 'SIGKILL'],
      ],
    );
  });

  it('a kill -9 is `signal` even after a late manual reload event and a memory reload PM2 refused', () => {
    const events = trace('signal');
    const kill = indexOf(events, (e) => e.type === 'log:PM2' && /via signal \[SIGKILL\]/.test(e.data.data));
    const at = Number(events[kill].data.at) - 1;
    const proc = events.find((e) => e.type === 'process:event')!.data.process;
    // Between the first restart (recorded) and the kill: the `reload` event of a cluster reload
    // that came after its own restart was recorded, and a memory check whose reload PM2 refused
    // ("Reload already in progress"): neither stops this process.
    const stale: Event[] = [
      { type: 'process:event', data: { event: 'reload', manually: true, process: proc, at: at - 2 } },
      {
        type: 'log:PM2',
        data: {
          process: { name: 'PM2', pm_id: 'PM2' },
          at: at - 1,
          data: `[PM2][WORKER] Process ${proc.pm_id} restarted because it exceeds --max-memory-restart value (current_memory=917112576 max_memory_limit=734003200 [octets])\n`,
        },
      },
    ];
    const records = classify([...events.slice(0, kill), ...stale, ...events.slice(kill)], { settleMs: 1 });
    assert.deepEqual(
      records.map((r) => r.cause),
      ['signal', 'signal'],
    );
  });

  it('a kill -9 or a crash that lands during a reload stays `signal` / `crash` when the reload event follows', () => {
    for (const [scenario, cause] of [
      ['signal', 'signal'],
      ['crash', 'crash'],
    ] as const) {
      const events = trace(scenario);
      const isOnline = (e: Event): boolean => e.type === 'process:event' && e.data.event === 'online';
      const online = events.findLastIndex(isOnline);
      assert.ok(
        events.slice(0, online).some((e) => e.type === 'process:event' && e.data.event === 'exit'),
        `${scenario}: a restart`,
      );
      const reload: Event = {
        type: 'process:event',
        data: { event: 'reload', manually: true, process: events[online].data.process, at: Number(events[online].data.at) + 1 },
      };
      const records = classify([...events.slice(0, online + 1), reload, ...events.slice(online + 1)]);
      assert.equal(records.at(-1)?.cause, cause, `${scenario}: ${JSON.stringify(records)}`);
    }
  });

  it("the app's own exit past its memory limit (docmark:exit, reason memory_limit) is `memory_limit`", () => {
    const events = trace('selfexit0').map((e) => {
      if (e.type !== 'process:msg' || e.data.data?.kind !== 'planned-exit') return e;
      return {
        ...e,
        data: { ...e.data, data: { event: 'docmark:exit', reason: 'memory_limit', pid: 4242, conversions: 1, uptime_s: 40, rss_mb: 720 } },
      };
    });
    assert.deepEqual(
      classify(events).map((r) => r.cause),
      ['memory_limit', 'memory_limit'],
    );
  });

  it('a planned exit is not made `manual` by a reload event left over from an earlier restart', () => {
    const events = trace('selfexit0');
    const exitMsg = indexOf(events, (e) => e.type === 'process:msg' && e.data.data?.kind === 'planned-exit');
    const proc = events.find((e) => e.type === 'process:event')!.data.process;
    const late: Event = { type: 'process:event', data: { event: 'reload', manually: true, process: proc, at: Number(events[exitMsg].data.at) - 1 } };
    assert.deepEqual(
      classify([...events.slice(0, exitMsg), late, ...events.slice(exitMsg)]).map((r) => r.cause),
      ['conversion_limit', 'conversion_limit'],
    );
  });
});
