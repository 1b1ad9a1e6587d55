// Per-stage accounting of OCR work, for profiling: whoever wants it installs a sink (a bench or a
// profiling script) and every stage reports the CPU time (all threads of the process, so
// onnxruntime's own threads count) and wall time it took. Without a sink it costs nothing.

export type OcrStage =
  | 'render'
  | 'gray'
  | 'detect.resize'
  | 'detect.pre'
  | 'detect.run'
  | 'detect.post'
  | 'crops'
  | 'recognize.pre'
  | 'recognize.run'
  | 'recognize.decode'
  | 'lines';

export type StageSink = (stage: OcrStage, cpuMicros: number, wallMs: number) => void;

let sink: StageSink | undefined;

export function setStageSink(next: StageSink | undefined): void {
  sink = next;
}

/** Run `fn` as `stage`, reported to the sink when there is one. */
export function stage<T>(name: OcrStage, fn: () => T): T {
  if (!sink) return fn();
  const report = sink;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const done = () => {
    const used = process.cpuUsage(cpu);
    report(name, used.user + used.system, performance.now() - wall);
  };
  const result = fn();
  if (result instanceof Promise) return result.finally(done) as T;
  done();
  return result;
}
