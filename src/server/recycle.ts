import fs from 'node:fs';
import path from 'node:path';
import Cron from 'croner';
import { pm2Home } from '../settings.js';

// Planned recycling under PM2 cluster mode, one instance at a time.
//
// When an instance closes its server, PM2's cluster master sends new connections to the
// siblings; if every sibling is closed at that moment, clients get ECONNREFUSED. So a
// planned exit (conversion limit, schedule) first takes a baton — a lock file shared by
// the instances of one app — and the *replacement* instance hands it back once it is
// ready. An instance that must wait keeps serving meanwhile.

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
  /** The PM2 daemon (parent process) of the holder: a baton left by an earlier daemon is void. */
  daemon: number;
  at: number;
}

export interface BatonOptions {
  /** One baton per app and port. */
  key: string;
  instance: number;
  /** A holder older than this is presumed lost (its replacement never became ready). */
  staleMs: number;
  /** The PM2 home of the daemon (see batonDir): the baton is never shared with another daemon. */
  dir: string;
  /** The PM2 daemon's pid (our parent under PM2). */
  daemon?: number;
}

/** Where batons live: PM2's home, like the restart log. */
export function batonDir(env: NodeJS.ProcessEnv = process.env): string {
  return pm2Home(env);
}

export class RecycleBaton {
  readonly file: string;
  private readonly daemon: number;

  constructor(readonly options: BatonOptions) {
    this.file = path.join(options.dir, `docmark-recycle-${fileSafe(options.key)}.json`);
    this.daemon = options.daemon ?? process.ppid;
  }

  /** Take the baton; false while another instance is recycling. */
  tryTake(now = Date.now()): boolean {
    const me: BatonHolder = { instance: this.options.instance, pid: process.pid, daemon: this.daemon, at: now };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.publish(me)) return true;
      const holder = this.read();
      if (!holder) continue; // handed back meanwhile
      if (holder.instance === me.instance && holder.pid === me.pid) return true;
      if (!this.isStale(holder, now) || !this.removeStale(holder)) return false;
    }
    return false;
  }

  /**
   * Called by a freshly ready instance: give back the baton its predecessor took, and
   * drop one an earlier PM2 daemon left behind (killed in the middle of a recycle).
   */
  handBack(): void {
    const holder = this.read();
    if (!holder) return;
    const ours = holder.instance === this.options.instance && holder.pid !== process.pid;
    if (ours || holder.daemon !== this.daemon) this.removeStale(holder);
  }

  private isStale(holder: BatonHolder, now: number): boolean {
    return holder.daemon !== this.daemon || now - holder.at >= this.options.staleMs;
  }

  /**
   * Creates the baton with its full content in one step: written aside, then hard-linked
   * into place (link fails if the baton exists). Opening with 'wx' and then writing left
   * an instant where the baton existed but was empty; a sibling whose schedule fired in
   * the same millisecond read it as "no holder", removed it, and both instances left.
   */
  private publish(me: BatonHolder): boolean {
    const aside = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(aside, JSON.stringify(me));
    try {
      fs.linkSync(aside, this.file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }

  /** The holder; undefined if there is no baton. A baton that cannot be parsed still counts as held. */
  private read(): BatonHolder | undefined {
    let text: string;
    let mtime: number;
    try {
      text = fs.readFileSync(this.file, 'utf8');
      mtime = fs.statSync(this.file).mtimeMs;
    } catch {
      return undefined;
    }
    // Unparsable is never "free": it goes stale from its last write, like any holder.
    return parse(text) ?? { instance: -1, pid: -1, daemon: this.daemon, at: mtime };
  }

  /**
   * Removes the baton only if it is still `seen`: it is moved aside first (rename is
   * atomic: of two instances removing the same stale baton, one gets it), and put back
   * if a sibling had taken it in between.
   */
  private removeStale(seen: BatonHolder): boolean {
    const aside = `${this.file}.${process.pid}.old`;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      return true; // already gone
    }
    try {
      const moved = parse(fs.readFileSync(aside, 'utf8'));
      const same = moved ? moved.pid === seen.pid && moved.at === seen.at && moved.instance === seen.instance : seen.pid === -1;
      if (same) return true;
      fs.linkSync(aside, this.file); // a sibling's fresh baton: put it back
      return false;
    } catch {
      return false;
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }
}

function parse(text: string): BatonHolder | undefined {
  try {
    return JSON.parse(text) as BatonHolder;
  } catch {
    return undefined;
  }
}

/**
 * Which instances of an app are serving: each writes a marker beside the baton once it
 * listens and removes it when it starts to drain. A planned exit waits until a sibling is
 * serving, so the last open instance never closes (after `pm2 start`, while PM2 restarts a
 * crashed sibling). A marker whose process is gone (killed, crashed) does not count.
 */
export class ServingMarkers {
  private readonly prefix: string;
  private readonly daemon: number;

  constructor(private readonly options: Omit<BatonOptions, 'staleMs'>) {
    this.prefix = `docmark-serving-${fileSafe(options.key)}-`;
    this.daemon = options.daemon ?? process.ppid;
  }

  private file(instance: number): string {
    return path.join(this.options.dir, `${this.prefix}${instance}.json`);
  }

  /** This instance is listening. */
  serving(): void {
    const file = this.file(this.options.instance);
    const aside = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(aside, JSON.stringify({ pid: process.pid, daemon: this.daemon }));
    fs.renameSync(aside, file);
  }

  /** This instance stops taking connections. */
  leaving(): void {
    const file = this.file(this.options.instance);
    try {
      const marker = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number };
      if (marker.pid === process.pid) fs.rmSync(file, { force: true });
    } catch {
      // no marker, or a replacement's: nothing of ours to remove
    }
  }

  /** Is another instance of this app (however many `pm2 scale` made), under this PM2 daemon, serving? */
  siblingServing(): boolean {
    const mine = path.basename(this.file(this.options.instance));
    let names: string[];
    try {
      names = fs.readdirSync(this.options.dir);
    } catch {
      return false;
    }
    for (const name of names) {
      if (!name.startsWith(this.prefix) || !name.endsWith('.json') || name === mine) continue;
      try {
        const marker = JSON.parse(fs.readFileSync(path.join(this.options.dir, name), 'utf8')) as { pid: number; daemon: number };
        if (marker.daemon === this.daemon && isAlive(marker.pid)) return true;
      } catch {
        // gone meanwhile, or being replaced: not counted
      }
    }
    return false;
  }
}

/** An app's key (name and port) as part of a file name. */
function fileSafe(key: string): string {
  return key.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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
    timer = setTimeout(
      () => {
        if (Date.now() < next.getTime() - 50) return arm(after);
        fire();
        arm(next);
      },
      Math.max(0, wait),
    );
    timer.unref();
  };
  arm(new Date());
  return () => clearTimeout(timer);
}
