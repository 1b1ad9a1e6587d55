import cliProgress from 'cli-progress';
import { formatDuration } from '../duration.js';
import { rate } from './report.js';

// Progress on stderr: a cli-progress bar on a terminal (done/total, pages/s, ETA,
// failures), plain lines every few seconds otherwise (logs, CI, pipes).

export interface ProgressState {
  done: number;
  total: number;
  failed: number;
  pages: number;
}

export interface Progress {
  start(total: number): void;
  update(state: ProgressState): void;
  /** A message that must not garble the bar. */
  log(line: string): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, plainEveryMs = 10_000): Progress {
  return stream.isTTY ? new BarProgress(stream) : new PlainProgress(stream, plainEveryMs);
}

class BarProgress implements Progress {
  private readonly bars: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | undefined;
  private readonly started = Date.now();

  constructor(stream: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar(
      {
        stream,
        format: ' {bar} {value}/{total} files | {pages} pages | {rate} pages/s | ETA {eta_formatted} | failed {failed}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(total: number): void {
    this.bar = this.bars.create(total, 0, { pages: 0, rate: '0.0', failed: 0 });
  }

  update(s: ProgressState): void {
    if (!this.bar) return;
    if (s.total !== this.bar.getTotal()) this.bar.setTotal(s.total);
    this.bar.update(s.done, { pages: s.pages, rate: rate(s.pages, (Date.now() - this.started) / 1000), failed: s.failed });
  }

  log(line: string): void {
    this.bars.log(line + '\n');
  }

  stop(): void {
    this.bars.stop();
  }
}

class PlainProgress implements Progress {
  private timer: NodeJS.Timeout | undefined;
  private last: ProgressState = { done: 0, total: 0, failed: 0, pages: 0 };
  private readonly started = Date.now();

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly everyMs: number,
  ) {}

  start(total: number): void {
    this.last = { ...this.last, total };
    this.log(`docmark batch: ${total} PDFs to convert`);
    this.timer = setInterval(() => this.print(), this.everyMs);
    this.timer.unref();
  }

  update(s: ProgressState): void {
    this.last = s;
  }

  log(line: string): void {
    this.stream.write(line + '\n');
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private print(): void {
    const s = this.last;
    const seconds = (Date.now() - this.started) / 1000;
    const perFile = s.done > 0 ? seconds / s.done : 0;
    const eta = s.done > 0 ? `, ETA ${formatDuration(perFile * Math.max(0, s.total - s.done))}` : '';
    this.log(`progress: ${s.done}/${s.total} files (${s.failed} failed), ${s.pages} pages, ${rate(s.pages, seconds)} pages/s${eta}`);
  }
}
