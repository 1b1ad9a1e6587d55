// Restart causes the soak sets off itself, at random moments: `pm2 reload`, an uncaught exception
// (the server's test crash hook: SIGUSR2 with DOCMARK_TEST_CRASH_HOOK=1), memory growth past the
// limit (its ballast hook: SIGWINCH makes the instance hold resident memory beyond
// DOCMARK_MAX_MEMORY), and SIGKILL of an instance. (The conversion limit and the schedule fire by
// themselves, from the compressed settings; the memory limit sits above an honest conversion's
// peak, so growth has to be made.) Each action is logged with its time, to check the restart log against.

const RELOAD_TRIES = 6;
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const stripColour = (/** @type {string} */ text) => text.replace(ANSI_COLOUR, '');
const RELOAD_RETRY_MS = 5000;
/** How `pm2 reload` reports each instance it reloaded: `[docmark](2) ✓`. */
const RELOADED_ID = /\]\((\d+)\) ✓/g;
/** The ballast goes to instances older than DOCMARK_MIN_UPTIME_S (6 s), with a margin. */
const MEMORY_MIN_AGE_MS = 10_000;
/** How long an action waits for an instance to act on. */
const TARGET_WAIT_MS = 30_000;
/** How long a ballast's instance gets to leave (one RSS sample, the grace, its exit) before it counts as sent. */
const MEMORY_EXIT_WAIT_MS = 30_000;
/** Ballasts per memory action: one that lands on an instance already leaving for another cause is sent again. */
const MEMORY_TRIES = 3;

/**
 * @param {{ sandbox: import('./sandbox.mjs').Pm2Sandbox, everyMs: Record<string, number>, random: () => number, t0: number, log: (l: object) => void }} options
 */
export function startChaos({ sandbox, everyMs, random, t0, log }) {
  /** @type {Array<{ t: number, action: string, pid?: number, instance?: number, result: string }>} */
  const actions = [];
  const timers = new Set();
  let running = true;

  const randomInstance = async (minAgeMs = 0) => {
    const online = (await sandbox.list()).filter(
      (p) => p.name === sandbox.settings.DOCMARK_PM2_NAME && p.status === 'online' && p.pid > 0 && Date.now() - p.uptime >= minAgeMs,
    );
    return online[Math.floor(random() * online.length)];
  };

  /** @type {Record<string, () => Promise<{ pid?: number, instance?: number, result: string }>>} */
  const perform = {
    // PM2 refuses a reload while another (a memory-limit reload) is in progress: try again shortly.
    // It reloads the instances one by one and stops at the first refusal, which names the instance:
    // those before it were reloaded (each printed with a ✓), so only that one is tried again. The
    // action is done once any instance was reloaded.
    reload: async () => {
      let why = '';
      let target = sandbox.settings.DOCMARK_PM2_NAME;
      /** @type {Set<number>} */
      const reloaded = new Set();
      for (let i = 0; i < RELOAD_TRIES && running; i++) {
        const res = await sandbox.pm2(['reload', target]);
        for (const m of stripColour(res.stdout).matchAll(RELOADED_ID)) reloaded.add(Number(m[1]));
        if (res.code === 0) return { result: 'ok', tries: i + 1 };
        why =
          stripColour(res.stderr || res.stdout)
            .trim()
            .split('\n')
            .pop() ?? '';
        target = /process id (\d+)/.exec(why)?.[1] ?? target;
        await new Promise((r) => setTimeout(r, RELOAD_RETRY_MS));
      }
      if (reloaded.size > 0) return { result: 'ok', reloaded: [...reloaded], refused: why };
      return { result: `refused: ${why}` };
    },
    crash: async () => signal('SIGUSR2'),
    kill9: async () => signal('SIGKILL'),
    memory: async () => memoryGrowth(),
  };
  // Only an instance past PM2's min_uptime: a younger one would first wait out its min uptime. An
  // instance already leaving (its conversion limit, the schedule) leaves for that cause with the
  // ballast on board, and the memory limit never fires: that ballast is sent again, elsewhere.
  const memoryGrowth = async () => {
    /** @type {string[]} */
    const preempted = [];
    for (let i = 0; i < MEMORY_TRIES && running; i++) {
      const sent = await signal('SIGWINCH', MEMORY_MIN_AGE_MS);
      if (sent.result !== 'sent') return { ...sent, ...(preempted.length ? { preempted } : {}) };
      const cause = await exitCause(/** @type {number} */ (sent.pid));
      if (cause === 'memory_limit' || cause === undefined || i === MEMORY_TRIES - 1)
        return { ...sent, tries: i + 1, ...(preempted.length ? { preempted } : {}) };
      preempted.push(`${sent.pid}: ${cause}`);
    }
    return { result: 'stopped', preempted };
  };
  /** The cause the restart log gives for this pid's exit, once it has one (undefined: none yet). */
  const exitCause = async (/** @type {number} */ pid) => {
    const giveUpAt = Date.now() + MEMORY_EXIT_WAIT_MS;
    while (running && Date.now() < giveUpAt) {
      const record = sandbox.restartRecords().find((r) => r.old_pid === pid);
      if (record) return /** @type {string} */ (record.cause);
      await new Promise((r) => setTimeout(r, 500));
    }
    return undefined;
  };
  // Instances restart often under the compressed settings: wait a while for one to qualify rather
  // than let the action lapse (a short run has only a few of each).
  const signal = async (/** @type {NodeJS.Signals} */ sig, minAgeMs = 0) => {
    const giveUpAt = Date.now() + TARGET_WAIT_MS;
    let p = await randomInstance(minAgeMs);
    while (!p && running && Date.now() < giveUpAt) {
      await new Promise((r) => setTimeout(r, 500));
      p = await randomInstance(minAgeMs);
    }
    if (!p) return { result: 'no instance online' };
    try {
      process.kill(p.pid, sig);
      return { pid: p.pid, instance: p.instance, result: 'sent' };
    } catch (err) {
      return { pid: p.pid, instance: p.instance, result: String(err) };
    }
  };

  // Each action at a random moment in each period of its length, so they drift against each other.
  for (const [action, period] of Object.entries(everyMs)) {
    if (!period) continue;
    const next = (/** @type {number} */ periodStart) => {
      const at = periodStart + random() * period;
      const timer = setTimeout(
        async () => {
          timers.delete(timer);
          if (!running) return;
          const t = Math.round((Date.now() - t0) / 1000);
          const done = await perform[action]().catch((err) => ({ result: String(err) }));
          const entry = { t, action, ...done };
          actions.push(entry);
          log({ msg: 'chaos', ...entry });
          next(periodStart + period);
        },
        Math.max(0, at - Date.now()),
      );
      timers.add(timer);
    };
    next(Date.now());
  }

  return {
    actions,
    stop() {
      running = false;
      for (const t of timers) clearTimeout(t);
    },
  };
}
