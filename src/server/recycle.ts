import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Cron from 'croner';

/**
 * Planned recycling under PM2 cluster mode, one instance at a time.
 *
 * When an instance closes its server, PM2's cluster master sends new connections to the
 * siblings; if every sibling is closed at that moment, clients get ECONNREFUSED. So a
 * planned exit (conversion limit, schedule) first takes a baton — a lock file shared by
 * the instances of one app — and the *replacement* instance hands it back once it is
 * ready. An instance that must wait keeps serving meanwhile.
 */

/**
 * Per-instance conversion limit: instance i of an app leaves after base × (1 + (i mod 4)/4)
 * conversions, so instances that share the load evenly do not reach it together.
 */
export function staggeredLimit(base: number, instance: number | undefined): number {
  if (base <= 0 || instance === undefined || !Number.isInteger(instance) || instance < 0) return base;
  return base + Math.round((base * (instance % 4)) / 4);
}

/** NODE_APP_INSTANCE as a number (PM2 cluster/fork instance index), if set. */
export function appInstance(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.NODE_APP_INSTANCE;
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

interface BatonHolder {
  instance: number;
  pid: number;
  at: number;
}

export interface BatonOptions {
  /** One baton per app and port. */
  key: string;
  instance: number;
  /** A holder older than this is presumed lost (its replacement never became ready). */
  staleMs: number;
  dir?: string;
}

export class RecycleBaton {
  readonly file: string;

  constructor(readonly options: BatonOptions) {
    const safe = options.key.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.file = path.join(options.dir ?? os.tmpdir(), `docmark-recycle-${safe}.json`);
  }

  /** Take the baton; false while another instance is recycling. */
  tryTake(now = Date.now()): boolean {
    const me: BatonHolder = { instance: this.options.instance, pid: process.pid, at: now };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.file, JSON.stringify(me), { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = this.read();
      if (holder && holder.instance === me.instance && holder.pid === me.pid) return true;
      if (holder && now - holder.at < this.options.staleMs) return false;
      this.remove();
    }
    return false;
  }

  /** Called by a freshly ready instance: give back the baton its predecessor took. */
  handBack(): void {
    const holder = this.read();
    if (holder && holder.instance === this.options.instance && holder.pid !== process.pid) this.remove();
  }

  private read(): BatonHolder | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as BatonHolder;
    } catch {
      return undefined;
    }
  }

  private remove(): void {
    fs.rmSync(this.file, { force: true });
  }
}

/** Parses a cron pattern (5 or 6 fields, as PM2's cron_restart); throws a readable error. */
export function nextCronRun(pattern: string, after = new Date()): Date | null {
  return Cron(pattern).next(after);
}

/**
 * Calls `fire` at each time of the pattern. Timers are unref'd: a schedule never keeps
 * the process alive. Returns a stop function.
 */
export function schedule(pattern: string, fire: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (after: Date): void => {
    const next = nextCronRun(pattern, after);
    if (!next) return;
    // setTimeout caps at ~24.8 days: far-away times are reached in several steps.
    const wait = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    timer = setTimeout(() => {
      if (Date.now() < next.getTime() - 50) return arm(after);
      fire();
      arm(next);
    }, Math.max(0, wait));
    timer.unref();
  };
  arm(new Date());
  return () => clearTimeout(timer);
}
