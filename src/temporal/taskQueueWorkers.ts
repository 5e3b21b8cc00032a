import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto; // a CommonJS module: named ESM imports fail under plain Node

/** A worker polled or heartbeated this recently (ms) to count as active. */
export const ACTIVE_WITHIN_MS = 30_000;

/** One of the engine's task queues a worker process polls. */
export interface WorkerTaskQueue {
  name: string;
  type: 'workflow' | 'activity';
  /** Its last poll of this queue, as Temporal's DescribeTaskQueue reports it (ISO). */
  last_seen: string;
  /** Task slots of its SDK worker on this queue for this type, from the worker's last heartbeat; null without one. */
  slots: Slots | null;
}

export interface Slots {
  used: number;
  free: number;
}

/** One worker process, as Temporal sees it: its pollers and (server ≥ 1.29, SDK ≥ 1.14) its heartbeats. */
export interface WorkerView {
  /** The SDK's worker identity (`<pid>@<host>` by default). */
  identity: string;
  host: string | null;
  pid: number | null;
  task_queues: WorkerTaskQueue[];
  /** Job types whose steps it can run: the engine's registry, for a process polling the job queue for activities. */
  job_types: string[];
  /** Job steps it runs at once and could run more: the activity slots of its SDK worker on the job
   * queue (for a process that runs no steps: the activity slots of all its workers), from the last
   * heartbeat; null without one. */
  slots: Slots | null;
  /** The SDK workers' status from their heartbeat (`running`, `shutting_down`, `shutdown`), null without one. */
  status: string | null;
  /** Its latest poll or heartbeat (ISO). */
  last_seen: string;
  /** Seen within the last 30 s, and not shut down. */
  active: boolean;
}

export interface WorkersView {
  workers: WorkerView[];
  total: number;
  active: number;
}

export interface TaskQueueWorkersOptions {
  /** The engine's job types (what a worker polling the job queue for activities runs). */
  jobTypes?: () => string[];
  /** Cache of the view (ms); default 2000, so a busy stats endpoint does not hammer the frontend. */
  cacheMs?: number;
}

type Heartbeat = proto.temporal.api.worker.v1.IWorkerHeartbeat & { taskQueue: string };

const seconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;

type SlotsInfo = { currentUsedSlots?: number | null; currentAvailableSlots?: number | null } | null | undefined;
const slotsOf = (infos: SlotsInfo[]): Slots | null => {
  const present = infos.filter((i) => i !== null && i !== undefined);
  if (present.length === 0) return null;
  return {
    used: present.reduce((a, i) => a + (i.currentUsedSlots ?? 0), 0),
    free: present.reduce((a, i) => a + (i.currentAvailableSlots ?? 0), 0),
  };
};

/**
 * Workers as Temporal sees them, grouped by process (identity): the pollers of the engine's task
 * queues (`<queue>`, `<queue>-store`, `<queue>-scheduler`; DescribeTaskQueue) and, where the server
 * has them, the SDK workers' heartbeats (ListWorkers: host, pid, slots, status). Cached briefly.
 */
export function taskQueueWorkerList(client: Client, namespace: string, taskQueue: string, options: TaskQueueWorkersOptions = {}) {
  let cached: { at: number; value: WorkersView } | undefined;
  const queues = [taskQueue, `${taskQueue}-store`, `${taskQueue}-scheduler`];
  return async (): Promise<WorkersView> => {
    if (cached && Date.now() - cached.at < (options.cacheMs ?? 2000)) return cached.value;
    const byIdentity = new Map<string, { queues: WorkerTaskQueue[]; lastPoll: number; heartbeats: Heartbeat[] }>();
    const entry = (identity: string) => {
      let e = byIdentity.get(identity);
      if (!e) byIdentity.set(identity, (e = { queues: [], lastPoll: 0, heartbeats: [] }));
      return e;
    };
    const types = [
      ['workflow', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
      ['activity', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
    ] as const;
    await Promise.all(
      queues.flatMap((name) =>
        types.map(async ([type, taskQueueType]) => {
          try {
            const response = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType });
            for (const poller of response.pollers ?? []) {
              const at = seconds(poller.lastAccessTime);
              const e = entry(poller.identity ?? '?');
              e.queues.push({ name, type, last_seen: new Date(at).toISOString(), slots: null });
              e.lastPoll = Math.max(e.lastPoll, at);
            }
          } catch {
            // Temporal unreachable: report what we have, the readiness probe says the rest.
          }
        }),
      ),
    );
    try {
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await client.workflowService.listWorkers({ namespace, pageSize: 1000, nextPageToken });
        for (const info of page.workersInfo ?? []) {
          const hb = info.workerHeartbeat as Heartbeat | null | undefined;
          if (hb && queues.includes(hb.taskQueue) && hb.workerIdentity) entry(hb.workerIdentity).heartbeats.push(hb);
        }
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (nextPageToken);
    } catch {
      // A server without ListWorkers (before 1.29) or with heartbeats off: pollers only.
    }
    const now = Date.now();
    const jobTypes = options.jobTypes?.() ?? [];
    const workers = [...byIdentity].map(([identity, e]): WorkerView => {
      // A process restarted under the same identity leaves its old SDK workers' last heartbeats: keep the newest per queue.
      const latest = new Map<string, Heartbeat>();
      for (const hb of e.heartbeats) {
        const seen = latest.get(hb.taskQueue);
        if (!seen || seconds(hb.heartbeatTime) > seconds(seen.heartbeatTime)) latest.set(hb.taskQueue, hb);
      }
      const heartbeats = [...latest.values()];
      const lastBeat = Math.max(0, ...heartbeats.map((hb) => seconds(hb.heartbeatTime)));
      const lastSeen = Math.max(e.lastPoll, lastBeat);
      const statuses = heartbeats.map((hb) => workerStatusName(hb.status));
      const status = statuses.length === 0 ? null : (statuses.find((s) => s !== 'shutdown') ?? 'shutdown');
      const [pidText, ...hostParts] = identity.split('@');
      const host = heartbeats[0]?.hostInfo?.hostName || (hostParts.length ? hostParts.join('@') : null);
      const pid = Number(heartbeats[0]?.hostInfo?.processId || pidText);
      const pollsJobSteps = e.queues.some((q) => q.name === taskQueue && q.type === 'activity');
      for (const q of e.queues) {
        const hb = latest.get(q.name);
        q.slots = hb ? slotsOf([q.type === 'workflow' ? hb.workflowTaskSlotsInfo : hb.activityTaskSlotsInfo]) : null;
      }
      const jobQueueBeat = latest.get(taskQueue);
      return {
        identity,
        host,
        pid: Number.isInteger(pid) && pid > 0 ? pid : null,
        task_queues: e.queues.sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type)),
        job_types: pollsJobSteps ? jobTypes : [],
        slots:
          pollsJobSteps && jobQueueBeat
            ? slotsOf([jobQueueBeat.activityTaskSlotsInfo])
            : slotsOf(heartbeats.map((hb) => hb.activityTaskSlotsInfo)),
        status,
        last_seen: new Date(lastSeen).toISOString(),
        active: now - lastSeen < ACTIVE_WITHIN_MS && status !== 'shutdown',
      };
    });
    workers.sort((a, b) => a.identity.localeCompare(b.identity));
    const value = { workers, total: workers.length, active: workers.filter((w) => w.active).length };
    cached = { at: now, value };
    return value;
  };
}

function workerStatusName(status: unknown): string {
  const name = typeof status === 'number' ? temporal.api.enums.v1.WorkerStatus[status] : String(status ?? '');
  return (name ?? 'unspecified').replace(/^WORKER_STATUS_/, '').toLowerCase();
}

/** The counts of the same view: worker processes seen, and those active (GET /jobs/stats). */
export function taskQueueWorkers(list: () => Promise<WorkersView>) {
  return async () => {
    const { total, active } = await list();
    return { total, active };
  };
}
