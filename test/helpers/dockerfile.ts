// A Dockerfile read the way the builder reads it (continuations, comments, exec and shell forms,
// stages), enough for tests to check an image's shape and replay a stage without an engine.

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV, ... */
  keyword: string;
  /** `--name=value` flags before the arguments (`--from=build`, `--mount=...`, `--interval=30s`). */
  flags: Record<string, string>;
  /** The rest of the line, flags removed. */
  args: string;
  /** The arguments of an exec form (`["a","b"]`), else undefined. */
  exec?: string[];
  line: number;
}

export interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of logicalLines(text)) {
    if (ins.keyword === 'FROM') {
      const [base, as, name] = ins.args.split(/\s+/);
      const resolved = base.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string, b: string) => globalArgs[a ?? b] ?? '');
      stages.push({ base: resolved, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [key, value = ''] = ins.args.split('=');
        globalArgs[key.trim()] = value.trim();
      }
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

function* logicalLines(text: string): Generator<Instruction> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    // A trailing backslash continues the instruction; comment lines inside it are dropped.
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i])) line += lines[i];
    }
    const match = /^\s*(\w+)\s*(.*)$/.exec(line);
    if (!match) continue;
    let rest = match[2].trim();
    const flags: Record<string, string> = {};
    for (let flag = /^--([\w-]+)=(\S+)\s*/.exec(rest); flag; flag = /^--([\w-]+)=(\S+)\s*/.exec(rest)) {
      flags[flag[1]] = flag[2];
      rest = rest.slice(flag[0].length);
    }
    const keyword = match[1].toUpperCase();
    // HEALTHCHECK's own command follows its flags: `CMD [...]`.
    const execText = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/i, '') : rest;
    let exec: string[] | undefined;
    if (execText.startsWith('[')) {
      try {
        exec = JSON.parse(execText);
      } catch {
        exec = undefined;
      }
    }
    yield { keyword, flags, args: rest, exec, line: start + 1 };
  }
}

/** `ENV a=1 b="two words"` (or the old `ENV a 1`) as key/value pairs. */
export function envPairs(args: string): Array<[string, string]> {
  const old = /^(\w+)\s+([^=]*)$/.exec(args);
  if (old) return [[old[1], old[2].trim()]];
  const pairs: Array<[string, string]> = [];
  const re = /(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let m = re.exec(args); m; m = re.exec(args)) {
    pairs.push([m[1], m[2].startsWith('"') ? JSON.parse(m[2]) : m[2]]);
  }
  return pairs;
}

/** `COPY a b dest` as sources and destination (exec form too). */
export function copyArgs(ins: Instruction): { sources: string[]; dest: string } {
  const parts = ins.exec ?? ins.args.split(/\s+/).filter(Boolean);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}
