import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import type { JobReadModel, JobRow } from '../projections/jobReadModel.js';
import type { BatchReadModel, BatchRow } from '../projections/batchReadModel.js';
import type { WebhookReadModel, WebhookRow } from '../projections/webhookReadModel.js';
import { webhookDeliveryWorkflow, type WebhookDeliveryInput } from '../workflows/webhookDeliveryWorkflow.js';
import { TERMINAL_JOB_EVENT_TYPES, callbackDeliveryId, subscriptionDeliveryId } from './webhookEvents.js';
import { webhookBody } from './webhookPayload.js';
import type { WebhookRetryPolicy } from './retryPolicy.js';

export interface WebhookDispatcherOptions {
  client: Client;
  /** Task queue of job workflows: delivery workflows run there too (their POSTs on `<queue>-webhooks`). */
  taskQueue: string;
  eventStore: EventStore;
  jobs: Pick<JobReadModel, 'getJob'>;
  batches: Pick<BatchReadModel, 'getBatch'>;
  webhooks: Pick<WebhookReadModel, 'subscribedBetween'>;
  /** The read model's checkpoint: the dispatcher stays at or behind it, so the job rows and the
   * subscriptions it reads are at least as recent as the event it handles. */
  readModelPosition: () => number;
  /** Called with the read model's new position after each batch it applies (wakes the dispatcher). */
  onReadModelMoved: (listener: () => void) => () => void;
  /** SQLite file of the dispatcher's own checkpoint (not in the read model: a rebuild must not
   * make it start over and deliver everything again). */
  checkpointPath: string;
  retry: WebhookRetryPolicy;
  /** The longest one POST may take (ms). */
  requestTimeoutMs: number;
  storeAccess?: 'local' | 'remote';
  /** Longest wait before looking again when nothing wakes it (ms); default 1000. */
  idleWaitMs?: number;
  log?: (line: string) => void;
}

/** A delivery to start: its workflow's input. */
type Delivery = WebhookDeliveryInput;

/** A subscription with its event types parsed (once per batch, not per event). */
interface Subscription {
  row: WebhookRow;
  types: ReadonlySet<string>;
}

/** Events read from the log at a time. */
const BATCH_SIZE = 500;

/**
 * Follows the event log after its own checkpoint and starts one webhookDeliveryWorkflow per
 * (subscription or callback_url, event). Its checkpoint moves only after the deliveries of an event
 * were started, and a delivery's workflow id is its delivery id (started with REJECT_DUPLICATE), so a
 * crash in between starts nothing twice and misses nothing. Which subscriptions hear an event depends
 * only on the log: those created before it and not deleted before it.
 */
export class WebhookDispatcher {
  private readonly db: Database.Database;
  private readonly getCheckpoint;
  private readonly setCheckpoint;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: WebhookDispatcherOptions) {
    mkdirSync(path.dirname(options.checkpointPath), { recursive: true });
    this.db = new Database(options.checkpointPath);
    this.db.pragma('journal_mode = WAL');
    // NORMAL: a checkpoint lost to a power cut only makes the dispatcher look at those events again,
    // and every delivery it would start again exists already (REJECT_DUPLICATE): nothing is sent
    // twice. FULL cost an fsync per batch of the read model under a burst.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS dispatch_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    this.getCheckpoint = this.db.prepare<[], { position: number }>(
      "SELECT position FROM dispatch_checkpoints WHERE name = 'webhooks'",
    );
    this.setCheckpoint = this.db.prepare(
      "INSERT INTO dispatch_checkpoints (name, position) VALUES ('webhooks', ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
    );
  }

  /** The last log position whose deliveries have all been started. */
  checkpoint(): number {
    return this.getCheckpoint.get()?.position ?? 0;
  }

  /** Handles every event up to the read model's position; returns the deliveries started. */
  async catchUp(): Promise<number> {
    let started = 0;
    for (;;) {
      const until = this.options.readModelPosition();
      const from = this.checkpoint();
      if (from >= until) return started;
      const events = this.options.eventStore
        .readAll({ fromPosition: from, limit: BATCH_SIZE })
        .filter((e) => e.globalPosition <= until);
      if (events.length === 0) return started;
      // One query for the batch: every subscription that existed at one of its events.
      const subscriptions = this.options.webhooks
        .subscribedBetween(events[0]!.globalPosition, events[events.length - 1]!.globalPosition)
        .map((row) => ({ row, types: new Set(JSON.parse(row.event_types) as string[]) }));
      for (const event of events) {
        const deliveries = this.deliveriesOf(event, subscriptions);
        for (const delivery of deliveries) await this.startDelivery(delivery);
        started += deliveries.length;
        if (deliveries.length > 0) this.setCheckpoint.run(event.globalPosition);
      }
      this.setCheckpoint.run(events[events.length - 1]!.globalPosition);
    }
  }

  /** Catches up, then follows the read model until stop(). Errors (Temporal away) are retried. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.options.onReadModelMoved(() => this.wake?.());
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.catchUp();
        } catch (error) {
          this.options.log?.(`[webhooks] dispatch: ${(error as Error).stack ?? error}`);
        }
        if (!this.running) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.idleWaitMs ?? 1000);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
    this.db.close();
  }

  private async startDelivery(delivery: Delivery): Promise<void> {
    try {
      await this.options.client.workflow.start(webhookDeliveryWorkflow, {
        workflowId: delivery.deliveryId,
        taskQueue: this.options.taskQueue,
        args: [delivery],
        // Never a second run from here: a delivery done (or failed) stays so; only redeliver reruns it.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `${delivery.eventType} → ${delivery.url}`,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  /** The deliveries an event makes: one per subscription that hears it, and the job's callback_url. */
  private deliveriesOf(event: RecordedEvent, subscriptions: Subscription[]): Delivery[] {
    const isJob = event.type.startsWith('Job');
    if (!isJob && !event.type.startsWith('Batch')) return [];
    const position = event.globalPosition;
    const live = subscriptions.filter(
      ({ row }) => row.created_position < position && (row.deleted_position === null || row.deleted_position > position),
    );
    const terminal = isJob && TERMINAL_JOB_EVENT_TYPES.includes(event.type);
    if (live.length === 0 && !terminal) return []; // nobody to tell: no need for the job's row
    const job = isJob ? this.options.jobs.getJob(event.streamId) : undefined;
    const batch = isJob ? undefined : this.options.batches.getBatch(event.streamId);
    if (!job && !batch) return []; // gone (deleted) before its events were dispatched: no owner to scope by
    let body: string | undefined;
    const bodyOf = () => (body ??= webhookBody(event, job ? { job } : { batch: batch! }));
    const base = {
      jobId: job?.id ?? null,
      batchId: job?.batch_id ?? batch?.id ?? null,
      eventType: event.type,
      eventPosition: position,
      redelivery: 0,
      actor: 'webhooks',
      retry: this.options.retry,
      requestTimeoutMs: this.options.requestTimeoutMs,
      ...(this.options.storeAccess ? { storeAccess: this.options.storeAccess } : {}),
    };
    let tags: string[] | undefined;
    const tagsOf = (row: JobRow) => (tags ??= JSON.parse(row.tags) as string[]);
    const deliveries: Delivery[] = live
      .filter((w) => hears(w, event.type, job, batch, tagsOf))
      .map(({ row: w }) => ({
        ...base,
        deliveryId: subscriptionDeliveryId(w.id, position),
        webhookId: w.id,
        url: w.url,
        body: bodyOf(),
      }));
    const callbackUrl = job && terminal ? this.callbackUrlOf(job.id) : undefined;
    if (callbackUrl)
      deliveries.push({
        ...base,
        deliveryId: callbackDeliveryId(job!.id, position),
        webhookId: null,
        url: callbackUrl,
        body: bodyOf(),
      });
    return deliveries;
  }

  /** A job's callback_url, from its JobSubmitted (the first event of its stream). */
  private callbackUrlOf(jobId: string): string | undefined {
    const [submitted] = this.options.eventStore.readStream(jobId, { maxCount: 1 });
    const url = (submitted?.data as { callbackUrl?: unknown } | undefined)?.callbackUrl;
    return typeof url === 'string' ? url : undefined;
  }
}

/** Does a subscription hear this event? Owner scope, event type, then every filter it has. */
function hears(
  { row: w, types }: Subscription,
  type: string,
  job: JobRow | undefined,
  batch: BatchRow | undefined,
  tagsOf: (job: JobRow) => string[],
): boolean {
  const owner = job?.owner ?? batch!.owner;
  if (w.scope !== 'all' && w.owner !== owner) return false;
  if (!types.has('*') && !types.has(type)) return false;
  if (w.job_type !== null && job?.type !== w.job_type) return false;
  if (w.batch_id !== null && (job?.batch_id ?? batch?.id) !== w.batch_id) return false;
  if (w.tag !== null && !(job && tagsOf(job).includes(w.tag))) return false;
  return true;
}
