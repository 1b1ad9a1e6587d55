// The servers a batch spreads its work over, taken in turn. A server that cannot be
// reached a few times in a row is taken out of rotation for a while (longer each time
// it is still down), then tried again; one success puts it back for good.

export interface ServerState {
  url: string;
  /** Connection failures since the last success. */
  failures: number;
  /** Out of rotation until this time (ms since epoch); 0 = in rotation. */
  downUntil: number;
  /** How many times in a row it was taken out (sets the next pause). */
  outages: number;
  /** It has answered with `102 Processing` heartbeats: from then on, silence means a lost request. */
  heartbeats: boolean;
  /** When the current run of connection failures began (ms since epoch); 0 = it answers. */
  unreachableSince: number;
}

export interface RotationOptions {
  /** Consecutive connection failures that take a server out. */
  failuresToDown?: number;
  firstPauseMs?: number;
  maxPauseMs?: number;
  /** Told when a server leaves or rejoins the rotation. */
  onChange?: (event: { url: string; down: boolean; pauseMs?: number }) => void;
}

export class ServerRotation {
  readonly servers: ServerState[];
  private next = 0;
  private readonly failuresToDown: number;
  private readonly firstPauseMs: number;
  private readonly maxPauseMs: number;

  constructor(
    urls: string[],
    private readonly options: RotationOptions = {},
  ) {
    if (urls.length === 0) throw new Error('at least one server is needed');
    this.servers = urls.map((url) => ({ url, failures: 0, downUntil: 0, outages: 0, heartbeats: false, unreachableSince: 0 }));
    this.failuresToDown = options.failuresToDown ?? 3;
    this.firstPauseMs = options.firstPauseMs ?? 2_000;
    this.maxPauseMs = options.maxPauseMs ?? 60_000;
  }

  /** The next server in rotation, or how long to wait until one is back. */
  pick(now = Date.now()): { server: ServerState } | { waitMs: number } {
    const n = this.servers.length;
    for (let i = 0; i < n; i++) {
      const server = this.servers[(this.next + i) % n];
      if (server.downUntil <= now) {
        this.next = (this.next + i + 1) % n;
        return { server };
      }
    }
    return { waitMs: Math.max(1, Math.min(...this.servers.map((s) => s.downUntil)) - now) };
  }

  /** The server with this URL, if it is one of the batch's and in rotation now. */
  inRotation(url: string | undefined, now = Date.now()): ServerState | undefined {
    const server = url === undefined ? undefined : this.servers.find((s) => s.url === url);
    return server && server.downUntil <= now ? server : undefined;
  }

  succeeded(server: ServerState): void {
    if (server.outages > 0) this.options.onChange?.({ url: server.url, down: false });
    server.failures = 0;
    server.outages = 0;
    server.downUntil = 0;
    server.unreachableSince = 0;
  }

  /** How long every server has been unreachable (0 while any answers). */
  allUnreachableForMs(now = Date.now()): number {
    if (this.servers.some((s) => s.unreachableSince === 0)) return 0;
    return now - Math.max(...this.servers.map((s) => s.unreachableSince));
  }

  /** The server could not be reached. */
  unreachable(server: ServerState, now = Date.now()): void {
    server.failures++;
    server.unreachableSince ||= now;
    // Already out (another request raced this one): nothing more to decide.
    if (server.downUntil > now || server.failures < this.failuresToDown) return;
    const pauseMs = Math.min(this.maxPauseMs, this.firstPauseMs * 2 ** server.outages);
    server.outages++;
    server.downUntil = now + pauseMs;
    // Back from the pause, a single failure takes it out again (for longer).
    server.failures = this.failuresToDown - 1;
    this.options.onChange?.({ url: server.url, down: true, pauseMs });
  }
}
