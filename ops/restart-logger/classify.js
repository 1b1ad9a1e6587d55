'use strict';
/*
 * Works out why a PM2 app restarted, from the bus events alone.
 *
 * PM2 never says why: each cause leaves its own trail (verified on PM2 7.0.4, see the
 * fixtures in test/fixtures/pm2/):
 * - memory_limit: log:PM2 "Process N restarted because it exceeds --max-memory-restart", or the
 *   app's own exit past its memory limit (`docmark:exit` with reason memory_limit)
 * - cron (PM2's cron_restart): log:PM2 "Deregistering a cron job on: N", then "Stopping app"
 * - cron / conversion_limit (the app's own planned exit): its `docmark:exit` process:msg
 * - manual: "Stopping app" with no other hint, often followed by a `restart`/`reload`
 *   event with `manually: true` (which also overrides a cron guess: `pm2 restart`
 *   deregisters the cron job too)
 * - crash: process:exception, a non-zero exit code, or a signal the process raises on itself
 *   when it faults (SIGABRT from abort() — a native addon's uncaught C++ exception, V8 out of
 *   memory —, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP): PM2 reports those as
 *   "exited with code [0] via signal [SIGABRT]" with exit_code 0
 * - signal: killed from outside PM2 (the log names a real signal; SIGINT is PM2's placeholder).
 *   A kill with no "Stopping app" before it was nobody's stop through PM2: hints left from an
 *   earlier stop (a late `reload` event, a memory reload PM2 refused) do not apply to it
 * - errored: too many unstable restarts; PM2 gives up
 *
 * A restart is the pair (final exit of the old process, online of the next generation);
 * in cluster mode the new worker comes online *before* the old one (`_old_N`) exits.
 * The tracker is a pure state machine: `push(event)` and `flush(now)` return finished
 * records and never do I/O, so it is tested against recorded bus traces.
 */

/** Causes that PM2 itself initiates with "Stopping app", which a manual event may override. */
const TENTATIVE = new Set(['cron_pm2', 'manual']);

const MEMORY_RE = /Process (\d+) restarted because it exceeds --max-memory-restart value \(current_memory=(\d+)/;
const CRON_RE = /Deregistering a cron job on: (\d+)/;
const STOPPING_RE = /Stopping app:.* id:(?:_old_)?(\d+)/;
const EXITED_RE = /App \[.*:(?:_old_)?(\d+)\] exited with code \[([^\]]*)\] via signal \[([^\]]*)\]/;

const MB = 1024 * 1024;

/** Signals a process gets from its own fault, not from someone who wanted it to stop. */
const FAULT_SIGNALS = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGSYS', 'SIGTRAP']);

/** Exits the app plans itself (its `docmark:exit` reason). */
const OWN_EXITS = new Set(['conversion_limit', 'cron', 'memory_limit']);

/** "_old_3" (cluster reload) and 3 are the same slot. */
function slotId(pmId) {
  if (pmId === undefined || pmId === null) return undefined;
  const n = Number(String(pmId).replace(/^_old_/, ''));
  return Number.isInteger(n) ? n : undefined;
}

/** The app's own planned-exit message (docmark's, or the shape the lab apps used). */
function exitMessage(data) {
  if (!data || typeof data !== 'object') return undefined;
  if (data.event === 'docmark:exit') return data;
  if (data.kind === 'planned-exit') return { ...data, reason: 'conversion_limit' };
  return undefined;
}

function createTracker(options = {}) {
  const settleMs = options.settleMs ?? 3000;
  const watch = options.watch ?? (() => true);
  const slots = new Map();

  const slot = (id) => {
    let s = slots.get(id);
    if (!s) {
      s = {
        id,
        name: undefined,
        instance: null,
        pid: null,
        hints: {},
        exit: undefined,
        stoppingExit: undefined,
        online: undefined,
        pending: undefined,
      };
      slots.set(id, s);
    }
    return s;
  };

  function push(event) {
    const out = [];
    const at = Number(event.data?.at) || Date.now();
    // Deadlines pass as time goes on, whichever slot the event is about.
    out.push(...flush(at));
    switch (event.type) {
      case 'log:PM2':
        onDaemonLog(String(event.data?.data ?? ''), at);
        break;
      case 'process:msg':
        onMessage(event.data, at, out);
        break;
      case 'process:exception': {
        const id = slotId(event.data?.process?.pm_id);
        if (id !== undefined && watched(event.data.process)) slot(id).hints.exception = true;
        break;
      }
      case 'process:event':
        onProcessEvent(event.data, at, out);
        break;
      default:
    }
    return out;
  }

  function watched(proc) {
    return proc && typeof proc.name === 'string' && proc.name !== 'PM2' && watch(proc.name);
  }

  function onDaemonLog(line, at) {
    let m;
    if ((m = MEMORY_RE.exec(line))) {
      slot(Number(m[1])).hints.memory = { rss: Number(m[2]), at };
    } else if ((m = CRON_RE.exec(line))) {
      slot(Number(m[1])).hints.cron = true;
    } else if ((m = STOPPING_RE.exec(line))) {
      slot(Number(m[1])).hints.stopping = true;
    } else if ((m = EXITED_RE.exec(line))) {
      slot(Number(m[1])).hints.exitLog = { code: m[2], signal: m[3] };
    }
  }

  function onMessage(packet, _at, out) {
    const proc = packet?.process;
    const id = slotId(proc?.pm_id);
    if (id === undefined || !watched(proc)) return;
    const s = slot(id);
    const data = packet.data;
    const planned = exitMessage(data);
    if (planned) {
      s.hints.exitMsg = planned;
      if (planned.instance !== undefined) s.instance = planned.instance;
    } else if (data && data.event === 'docmark:ready' && data.pid) {
      s.pid = data.pid;
      if (data.instance !== undefined) s.instance = data.instance;
      // A pending record may only be waiting for the new pid.
      const pending = s.pending;
      if (pending && pending.record.new_pid === null && pending.record.old_pid !== data.pid) {
        pending.record.new_pid = data.pid;
        if (!TENTATIVE.has(pending.cause)) out.push(finish(s));
      }
    }
  }

  function onProcessEvent(packet, at, out) {
    const proc = packet?.process;
    const id = slotId(proc?.pm_id);
    if (id === undefined || !watched(proc)) return;
    const s = slot(id);
    s.name = proc.name;
    if (proc.NODE_APP_INSTANCE !== undefined) s.instance = proc.NODE_APP_INSTANCE;
    const isOld = String(proc.pm_id).startsWith('_old_');

    switch (packet.event) {
      case 'online':
        if (isOld) return;
        s.online = { at, restartTime: Number(proc.restart_time ?? 0) };
        pair(s, at, out);
        return;
      case 'restart overlimit':
        s.hints.overlimit = true;
        return;
      case 'exit': {
        const exit = {
          at,
          status: proc.status,
          code: proc.exit_code ?? null,
          restartTime: Number(proc.restart_time ?? 0),
          startedAt: Number(proc.pm_uptime) || undefined,
        };
        // PM2 sends a first exit while `stopping`, then the final one.
        if (exit.status === 'stopping') {
          s.stoppingExit = exit;
          return;
        }
        if (exit.status === 'errored' || s.hints.overlimit) {
          out.push(record(s, { ...exit, startedAt: exit.startedAt ?? s.stoppingExit?.startedAt }, 'errored', null));
          reset(s);
          return;
        }
        s.exit = { ...exit, startedAt: s.stoppingExit?.startedAt ?? exit.startedAt };
        s.stoppingExit = undefined;
        pair(s, at, out);
        return;
      }
      case 'restart':
      case 'reload':
      case 'graceful reload':
        if (!packet.manually) return;
        // It names a stop PM2 made ("Stopping app"), never a kill or crash that landed during the
        // reload: those are already known for what they are.
        if (s.pending && TENTATIVE.has(s.pending.cause)) {
          s.pending.cause = 'manual';
          s.pending.record.cause = 'manual';
          out.push(finish(s));
        } else if (!s.pending) {
          s.hints.manual = true;
        }
        return;
      case 'stop':
      case 'delete':
        // Stopped for good: no restart to report.
        if (s.pending) out.push(finish(s));
        reset(s);
        s.online = undefined;
        return;
      default:
    }
  }

  function pair(s, at, out) {
    if (!s.exit || !s.online || s.online.restartTime <= s.exit.restartTime) return;
    if (s.pending) out.push(finish(s));
    const cause = causeOf(s);
    // In cluster mode the new worker is ready before the old one exits; in fork mode later.
    const oldPid = s.hints.exitMsg?.pid ?? s.pid;
    const newPid = s.pid !== null && s.pid !== oldPid ? s.pid : null;
    const rec = record(s, s.exit, cause === 'cron_pm2' ? 'cron' : cause, newPid);
    rec.restarts = s.online.restartTime;
    s.pending = { record: rec, cause, deadline: at + settleMs };
    reset(s);
    // An 'online' pairs with one exit only: after `pm2 reset` lowers restart_time, an old one
    // would otherwise look newer than the next exit and pair with it before its process starts.
    s.online = undefined;
    if (!TENTATIVE.has(cause) && newPid !== null) out.push(finish(s));
  }

  function causeOf(s) {
    const h = s.hints;
    const signal = h.exitLog?.signal;
    if (signal && signal !== 'SIGINT' && !h.stopping && !h.exitMsg) return FAULT_SIGNALS.has(signal) ? 'crash' : 'signal';
    const reason = h.exitMsg?.reason;
    // A `reload` event that came after its own restart was recorded does not make the app's own planned exit manual.
    if (h.manual && !OWN_EXITS.has(reason)) return 'manual';
    if (h.memory) return 'memory_limit';
    if (reason === 'memory_limit') return 'memory_limit';
    if (reason === 'conversion_limit') return 'conversion_limit';
    if (reason === 'cron') return 'cron';
    if (h.cron && h.stopping) return 'cron_pm2';
    if (h.stopping) return 'manual';
    const code = s.exit.code;
    if (h.exception || (code !== null && code !== undefined && Number(code) !== 0) || FAULT_SIGNALS.has(signal)) return 'crash';
    if (signal && signal !== 'SIGINT') return 'signal';
    if (reason === 'signal' || reason === 'shutdown_message') return 'signal';
    // A clean exit nobody asked for is a fault too.
    return 'crash';
  }

  function record(s, exit, cause, newPid) {
    const h = s.hints;
    const msg = h.exitMsg;
    const rssBytes = h.memory?.rss;
    const uptime = msg?.uptime_s ?? (exit.startedAt ? Math.max(0, Math.round((exit.at - exit.startedAt) / 1000)) : null);
    const signal = h.exitLog?.signal && h.exitLog.signal !== 'SIGINT' ? h.exitLog.signal : null;
    return {
      time: new Date(exit.at).toISOString(),
      app: s.name ?? null,
      instance: s.instance ?? null,
      pm_id: s.id,
      old_pid: msg?.pid ?? (newPid === s.pid ? null : s.pid),
      new_pid: newPid,
      cause,
      exit_code: exit.code === null || exit.code === undefined ? null : Number(exit.code),
      signal,
      uptime_s: uptime,
      rss_mb: rssBytes ? Math.round(rssBytes / MB) : (msg?.rss_mb ?? null),
      conversions: msg?.conversions ?? null,
    };
  }

  function reset(s) {
    s.hints = {};
    s.exit = undefined;
    s.stoppingExit = undefined;
  }

  function finish(s) {
    const rec = s.pending.record;
    s.pending = undefined;
    return rec;
  }

  /** Records whose settle time has passed (all of them with `now = Infinity`). */
  function flush(now = Infinity) {
    const out = [];
    for (const s of slots.values()) {
      if (!s.pending || s.pending.deadline > now) continue;
      out.push(finish(s));
    }
    return out;
  }

  return { push, flush };
}

/** All restart records in a finished list of bus events. */
function classify(events, options) {
  const tracker = createTracker(options);
  const out = [];
  for (const e of events) out.push(...tracker.push(e));
  out.push(...tracker.flush());
  return out;
}

module.exports = { createTracker, classify };
