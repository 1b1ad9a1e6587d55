// GET /status.json: the whole host's status (every instance, RSS history, restarts), answered by
// any instance from the files the instances share in PM2's home. Open like /health.
import path from 'node:path';
import type Koa from 'koa';
import { pm2Home } from '../../settings.js';
import type { AppDeps } from '../app.js';
import { appInstance } from '../recycle.js';
import { StatusBoard, memoryLimitMb } from '../status/board.js';
import { StatusFolder } from '../status/folder.js';
import { RestartLog } from '../status/restart-log.js';

type Routes = Record<string, Record<string, Koa.Middleware>>;

/** The shared folder of one app on one port, as the recycle baton is keyed. */
export function statusDir(app: string, port: number, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(pm2Home(env), 'docmark-status', `${app}-${port}`.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

export interface StatusRouteOptions {
  env?: NodeJS.ProcessEnv;
  /** Job counts by state for the page, once the server runs asynchronous jobs. */
  jobCounts?: () => Record<string, number>;
}

export function statusRoutes(deps: AppDeps, { env = process.env, jobCounts }: StatusRouteOptions = {}): Routes {
  const { config, lifecycle, converter, metrics } = deps;
  // Only PM2's instances share a host view; a server run by hand is a host of one.
  const underPm2 = env.pm_id !== undefined;
  const board = new StatusBoard({
    app: config.pm2.name,
    instance: underPm2 ? (appInstance(env) ?? null) : null,
    folder: underPm2 ? sharedFolder(statusDir(config.pm2.name, config.port, env), deps.log) : undefined,
    jobCounts,
    restartLog: new RestartLog(config.pm2.restartLog),
    memoryLimitMb: memoryLimitMb(config.pm2.maxMemory),
    lifecycle,
    converter,
    metrics,
  }).start();
  return {
    '/status.json': {
      GET: (ctx) => {
        ctx.set('Cache-Control', 'no-store');
        ctx.body = board.host();
      },
    },
  };
}

/** A folder that cannot be made (read-only PM2 home) leaves the page with this instance alone, not the server down. */
function sharedFolder(dir: string, log: AppDeps['log']): StatusFolder | undefined {
  try {
    return new StatusFolder(dir);
  } catch (err) {
    log?.({ level: 'warn', msg: 'status folder unavailable: /status.json shows this instance only', dir, error: String(err) });
    return undefined;
  }
}
