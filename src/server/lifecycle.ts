import { EventEmitter } from 'node:events';
import { DocmarkError } from '../errors.js';

// The process's life as a server: counts conversions, knows what is in flight,
// and drains before leaving — on a signal, on PM2's shutdown message, or by itself
// after `maxConversions` conversions or past its memory limit (PM2 then starts a fresh process).

export type ExitReason = 'conversion_limit' | 'cron' | 'memory_limit' | 'signal' | 'shutdown_message';

export interface LifecycleOptions {
  maxConversions: number;
  drainTimeoutMs: number;
  /** For this long after a drain begins, requests are still taken: they come on connections accepted just before. */
  lingerMs?: number;
}

export class Lifecycle extends EventEmitter {
  readonly startedAt = Date.now();
  conversions = 0;
  failures = 0;
  inFlight = 0;
  draining = false;
  drainReason: ExitReason | undefined;
  drainStartedAt = 0;
  /** The conversion limit was reached (the drain may wait for a sibling to recycle first). */
  limitReached = false;
  /** New work is refused from now on, whatever the drain waits for (the memory limit). */
  refusing: ExitReason | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(readonly options: LifecycleOptions) {
    super();
  }

  /** A conversion request may start; false while draining. */
  acquire(): boolean {
    if (this.refusing) return false;
    if (this.draining && Date.now() - this.drainStartedAt >= (this.options.lingerMs ?? 0)) return false;
    this.inFlight++;
    return true;
  }

  /** A conversion request ended (any outcome). `counted` = it ran a conversion. */
  release(counted: boolean, ok: boolean): void {
    this.inFlight--;
    if (counted) {
      this.conversions++;
      if (!ok) this.failures++;
    }
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    const limit = this.options.maxConversions;
    if (limit > 0 && this.conversions >= limit && !this.draining && !this.limitReached) {
      this.limitReached = true;
      // Under PM2 a 'limit' listener decides when to leave (one instance at a time).
      if (this.listenerCount('limit') > 0) this.emit('limit', 'conversion_limit');
      else this.beginDrain('conversion_limit');
    }
  }

  /** Refuse new work at once, before (and without) the drain's linger; 'refusing' is emitted once. */
  stopAdmitting(reason: ExitReason): void {
    if (this.refusing) return;
    this.refusing = reason;
    this.emit('refusing', reason);
  }

  /** Why the instance no longer takes work: the 503 a refused request gets (body unread). */
  refusal(): DocmarkError {
    if ((this.refusing ?? this.drainReason) === 'memory_limit') {
      return new DocmarkError('restarting', 'This server instance passed its memory limit and is being replaced; retry shortly.', { retryAfter: 2 });
    }
    return new DocmarkError('draining', 'This server instance is restarting; retry shortly.', { retryAfter: 2 });
  }

  /** Stop taking work; 'drain' is emitted once with the reason. */
  beginDrain(reason: ExitReason): void {
    if (this.draining) return;
    this.draining = true;
    this.drainStartedAt = Date.now();
    this.drainReason = reason;
    this.emit('drain', reason);
  }

  /** Resolves when nothing is in flight, or after the drain timeout (false). */
  waitIdle(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }

  uptimeSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }
}
