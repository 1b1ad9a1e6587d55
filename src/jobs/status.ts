// The status document of a job: what `GET /jobs/:id` answers, what SSE streams and webhooks carry.
import type { JobError, JobRecord, JobState, JobStore } from './types.js';

export interface JobStatus {
  id: string;
  status: JobState;
  pages_done: number;
  pages_total: number | null;
  /** Jobs ahead of this one (0 = next); null unless queued. */
  queue_position: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** When the result goes (410 after); null until finished. */
  expires_at: string | null;
  error: JobError | null;
  status_url: string;
  result_url: string;
  events_url: string;
}

export const jobUrls = (id: string): Pick<JobStatus, 'status_url' | 'result_url' | 'events_url'> => ({
  status_url: `/jobs/${id}`,
  result_url: `/jobs/${id}/result`,
  events_url: `/jobs/${id}/events`,
});

export function statusDocument(job: JobRecord, queuePosition: number | null, ttlMs: number): JobStatus {
  return {
    id: job.id,
    status: job.status,
    pages_done: job.pages_done,
    pages_total: job.pages_total,
    queue_position: job.status === 'queued' ? queuePosition : null,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    expires_at: job.finished_at ? new Date(Date.parse(job.finished_at) + ttlMs).toISOString() : null,
    error: job.error,
    ...jobUrls(job.id),
  };
}

/** The job's status document, or undefined when there is no such job. */
export async function readStatus(store: JobStore, id: string, ttlMs: number): Promise<JobStatus | undefined> {
  const job = await store.get(id);
  if (!job) return undefined;
  const position = job.status === 'queued' ? await store.queuePosition(id) : null;
  return statusDocument(job, position, ttlMs);
}
