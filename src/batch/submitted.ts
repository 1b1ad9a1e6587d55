import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FoundPdf } from './walk.js';

// The job a batch submitted for one file, recorded beside where the file's output goes
// (`<output>.docmark-job`) as soon as the server accepted it, before the batch waits on it, and
// removed once the file is done. A batch that is stopped, killed or cut off leaves it behind, and
// the rerun follows that job instead of submitting the file again: what the server has done or is
// doing is not done twice. One small file per file in flight: nothing grows with the folder.

export const SUBMITTED_SUFFIX = '.docmark-job';

export interface SubmittedJob {
  /** The job's id on the server. */
  id: string;
  /** The server it was submitted to (as given to the batch): the job is followed there. */
  server: string;
  /** The PDF as it was submitted: a PDF changed since is submitted again. */
  size: number;
  mtimeMs: number;
  at: string;
}

/** The ids the server hands out; anything else in the record is not followed. */
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A record is a few hundred bytes; a bigger file there is not one. */
const MAX_RECORD_BYTES = 4096;

export function submittedPath(target: string): string {
  return target + SUBMITTED_SUFFIX;
}

/** The job recorded for this output, if there is one and it was submitted for this very PDF. */
export async function readSubmitted(target: string, pdf: FoundPdf): Promise<SubmittedJob | undefined> {
  let text: string;
  try {
    const file = submittedPath(target);
    if ((await fsp.stat(file)).size > MAX_RECORD_BYTES) return undefined;
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let job: Partial<SubmittedJob>;
  try {
    job = JSON.parse(text) as Partial<SubmittedJob>;
  } catch {
    return undefined;
  }
  if (typeof job?.id !== 'string' || !JOB_ID.test(job.id) || typeof job.server !== 'string') return undefined;
  if (job.size !== pdf.size || job.mtimeMs !== pdf.mtimeMs) return undefined;
  return job as SubmittedJob;
}

/**
 * Record the job, durably (written aside, flushed to disk, renamed over any earlier record), so a
 * batch killed the moment after still knows it.
 */
export async function recordSubmitted(target: string, job: SubmittedJob): Promise<void> {
  const file = submittedPath(target);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const aside = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.docmark-partial`;
  try {
    const handle = await fsp.open(aside, 'wx');
    try {
      await handle.writeFile(JSON.stringify(job));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(aside, file);
  } catch (err) {
    await fsp.rm(aside, { force: true });
    throw err;
  }
}

/** The file is done (converted or failed for good): its job is nothing to come back to. */
export async function forgetSubmitted(target: string): Promise<void> {
  await fsp.rm(submittedPath(target), { force: true });
}
