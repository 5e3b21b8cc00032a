/**
 * Synthetic job streams for the read-model benchmark, shaped exactly as jobWorkflow (and, for
 * JobTerminated / JobTimedOut, the reconciler) record them: the same event types, the same `data`
 * fields, ids `${jobId}:${runId}:${seq}` and the same metadata. Deterministic for a given seed, so two
 * runs fill the same log.
 */
import type { NewEvent } from '../../src/eventstore/index.js';
import { JobEvents, type JobStatus } from '../../src/domain/index.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** mulberry32: small, fast, good enough to spread benchmark data. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(weighted: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const entry of weighted) total += entry[1];
    let r = this.next() * total;
    for (const [value, weight] of weighted) if ((r -= weight) < 0) return value;
    return weighted[weighted.length - 1]![0];
  }
  /** A v4-shaped UUID from this generator (crypto.randomUUID is not seedable). */
  /** 8 hex digits. */
  word(): string {
    const w = Math.floor(this.next() * 4294967296);
    return HEX[w >>> 24]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
  }
  uuid(): string {
    const a = this.word();
    const b = this.word();
    const c = this.word();
    const d = this.word();
    const variant = '89ab'[this.int(0, 3)]!;
    return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  }
}

export const JOB_TYPES = ['sleep', 'noop', 'flaky', 'http', 'report'] as const;
export type BenchJobType = (typeof JOB_TYPES)[number];
const typeWeights: readonly (readonly [BenchJobType, number])[] = [
  ['sleep', 35],
  ['noop', 20],
  ['http', 20],
  ['report', 15],
  ['flaky', 10],
];

/** ~20 owners, some much busier than others. */
export const OWNERS = Array.from({ length: 20 }, (_, i) => `user-${String(i + 1).padStart(2, '0')}`);
const ownerWeights = OWNERS.map((owner, i) => [owner, 1 / (1 + i * 0.25)] as const);

const priorityWeights = [
  [1, 15],
  [2, 50],
  [3, 25],
  [4, 10],
] as const;

/** Final status of the generated jobs: mostly completed, a spread of everything else. */
const statusWeights: readonly (readonly [JobStatus | 'retried-completed', number])[] = [
  ['completed', 77],
  ['retried-completed', 1],
  ['failed', 8],
  ['cancelled', 5],
  ['running', 4],
  ['paused', 2],
  ['pending', 2],
  ['terminated', 0.6],
  ['timed_out', 0.4],
];

const DAY_MS = 24 * 3600_000;
export const SPREAD_DAYS = 30;

export interface GeneratedJob {
  jobId: string;
  type: BenchJobType;
  priority: number;
  owner: string;
  status: JobStatus;
  createdAt: string;
  events: NewEvent[];
}

interface Plan {
  input: Record<string, unknown>;
  totalSteps: number;
  maxAttempts: number;
  stepMs: number;
  result: Record<string, unknown> | null;
  /** What a finished step adds to result_files: nothing, the http response, or one CSV part per step. */
  files: 'none' | 'response' | 'parts';
}

function planOf(rng: Rng, type: BenchJobType): Plan {
  switch (type) {
    case 'sleep': {
      const steps = rng.int(1, 6);
      const stepMs = rng.pick(SLEEP_STEP_MS);
      return { input: { steps, step_ms: stepMs }, totalSteps: steps, maxAttempts: 3, stepMs, result: { steps }, files: 'none' };
    }
    case 'noop':
      return { input: {}, totalSteps: 1, maxAttempts: 3, stepMs: 2, result: null, files: 'none' };
    case 'flaky': {
      const steps = rng.int(2, 5);
      const input = {
        steps,
        step_ms: 100,
        fail_on_step: rng.int(0, steps - 1),
        fail_times: rng.int(0, 2),
        permanent: rng.chance(0.3),
        message: 'simulated failure',
      };
      return { input, totalSteps: steps, maxAttempts: 3, stepMs: 100, result: null, files: 'none' };
    }
    case 'http': {
      const input = {
        url: `https://api.example.com/v1/items/${rng.int(1, 99_999)}`,
        method: 'GET',
        headers: {},
        timeout_ms: 30_000,
      };
      return {
        input,
        totalSteps: 1,
        maxAttempts: 5,
        stepMs: 300,
        result: { status: 200, bytes: rng.int(200, 90_000) },
        files: 'response',
      };
    }
    case 'report': {
      const chunks = rng.int(1, 4);
      const rows = rng.int(1, 50) * 1000;
      return {
        input: { rows, chunks, step_ms: 0 },
        totalSteps: chunks,
        maxAttempts: 3,
        stepMs: 150,
        result: { rows },
        files: 'parts',
      };
    }
  }
}

const SLEEP_STEP_MS = [
  [200, 1],
  [1000, 3],
  [5000, 1],
] as const;

const NAMES: Record<BenchJobType, readonly (readonly [string, number])[]> = {
  sleep: [
    ['nightly sync', 1],
    ['warm cache', 1],
    ['wait for upstream', 1],
    ['demo job', 1],
  ],
  noop: [
    ['heartbeat', 1],
    ['smoke test', 1],
    ['noop', 1],
  ],
  flaky: [
    ['import partner feed', 1],
    ['resize images', 1],
    ['reindex search', 1],
  ],
  http: [
    ['webhook delivery', 1],
    ['fetch price list', 1],
    ['ping health endpoint', 1],
  ],
  report: [
    ['monthly invoice report', 1],
    ['usage export', 1],
    ['audit CSV', 1],
  ],
};

const SYSTEM = { actor: 'system' } as const;
const pad2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const pad3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let isoDay = NaN;
let isoDayPrefix = '';
/** `new Date(ms).toISOString()`, several times faster: the generator formats ~6 timestamps a job. */
function iso(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    isoDay = day;
    isoDayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const sec = rest % 60;
  rest = (rest - sec) / 60;
  return `${isoDayPrefix}${pad2[(rest - (rest % 60)) / 60]}:${pad2[rest % 60]}:${pad2[sec]}.${pad3[milli]}Z`;
}

/**
 * Generates job `index` of `count`: created_at grows with the index (the log is in time order, as in
 * production) over the last SPREAD_DAYS days ending at `endMs`, with a little jitter.
 */
export class JobGenerator {
  private readonly rng: Rng;
  private readonly startMs: number;
  private readonly spacingMs: number;
  private batch: { id: string; left: number } | null = null;

  constructor(count: number, seed = 42, endMs = Date.now()) {
    this.rng = new Rng(seed);
    this.startMs = endMs - SPREAD_DAYS * DAY_MS;
    this.spacingMs = (SPREAD_DAYS * DAY_MS) / Math.max(1, count);
  }

  job(index: number): GeneratedJob {
    const createdMs = Math.floor(this.startMs + index * this.spacingMs + this.rng.next() * Math.min(this.spacingMs, 5000));
    return new JobRecorder(this.rng, this.nextBatchId(), createdMs).run();
  }

  /** ~3% of jobs come from bulk submits, in batches of 10 to 100 consecutive jobs. */
  private nextBatchId(): string | null {
    if (this.batch && this.batch.left > 0) {
      this.batch.left -= 1;
      return this.batch.id;
    }
    this.batch = null;
    if (this.rng.chance(0.0006)) {
      this.batch = { id: `batch_${this.rng.uuid()}`, left: this.rng.int(10, 99) };
      return this.batch.id;
    }
    return null;
  }
}

/**
 * One job's history, recorded as jobWorkflow records it. A class rather than closures: tsx wraps every
 * named closure in `__name(...)`, which made the generator three times slower at 1M jobs.
 */
class JobRecorder {
  readonly type: BenchJobType;
  readonly owner: string;
  readonly outcome: JobStatus | 'retried-completed';
  readonly plan: Plan;
  readonly jobId: string;
  readonly actor: string;
  runId: string;
  priority: number;
  t: number;
  seq = 0;
  status: JobStatus = 'pending';
  attempt = 1;
  maxAttempts: number;
  completedSteps = 0;
  activeMs = 0;
  resultFiles: string[] = [];
  events: NewEvent[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly batchId: string | null,
    private readonly createdMs: number,
  ) {
    this.type = rng.pick(typeWeights);
    this.owner = rng.pick(ownerWeights);
    this.priority = rng.pick(priorityWeights);
    this.outcome = rng.pick(statusWeights);
    this.plan = planOf(rng, this.type);
    this.maxAttempts = this.plan.maxAttempts;
    this.jobId = `job_${rng.uuid()}`;
    this.runId = rng.uuid();
    this.actor = `user:${this.owner}`;
    this.t = createdMs;
  }

  run(): GeneratedJob {
    const { rng, plan, outcome } = this;
    const createdAt = iso(this.createdMs);
    const runAt = outcome === 'pending' && rng.chance(0.5) ? iso(this.createdMs + rng.int(60, 86_400) * 1000) : null;
    const timeoutMs = rng.chance(0.2) ? rng.int(1, 60) * 60_000 : outcome === 'timed_out' ? 600_000 : null;
    const user = { actor: this.actor };

    this.record(
      JobEvents.submitted,
      {
        name: rng.pick(NAMES[this.type]),
        type: this.type,
        input: plan.input,
        priority: this.priority,
        owner: this.owner,
        batchId: this.batchId,
        totalSteps: plan.totalSteps,
        maxAttempts: plan.maxAttempts,
        timeoutMs,
        runAt,
        createdAt,
      },
      user,
    );
    if (rng.chance(0.02)) {
      const to = this.priority === 4 ? 3 : this.priority + 1;
      this.later(100, 5000);
      this.record(JobEvents.reprioritized, { from: this.priority, to }, user);
      this.priority = to;
    }

    if (outcome === 'pending') {
      if (rng.chance(0.1)) {
        this.later(100, 2000);
        this.record(
          JobEvents.signalIgnored,
          { signal: 'resume', why: 'Job is pending, not paused; only a paused job can be resumed', status: 'pending' },
          { actor: 'external' },
        );
      }
      return this.result(createdAt);
    }

    this.start();
    const half = Math.floor(plan.totalSteps / 2);
    switch (outcome) {
      case 'completed':
        if (this.type === 'flaky' || (this.type === 'http' && rng.chance(0.1))) this.attemptFailures(rng.int(1, 2));
        if (rng.chance(0.03)) {
          this.runSteps(half);
          this.later(1000, 600_000);
          this.record(JobEvents.paused, { from: 'running' }, { actor: this.actor, reason: 'maintenance window' });
          this.later(1000, 600_000);
          this.record(JobEvents.resumed, { to: 'running' }, user);
        }
        this.complete();
        break;
      case 'retried-completed':
        this.runSteps(half);
        this.attemptFailures(this.maxAttempts - 1);
        this.fail(`simulated failure (attempt ${this.attempt})`, 'Error');
        // A retry is a new run of the same job id: a new run id, whose sequence starts again at 1.
        this.later(60_000, 3_600_000);
        this.runId = rng.uuid();
        this.seq = 0;
        this.maxAttempts = this.attempt + plan.maxAttempts;
        this.attempt += 1;
        this.record(
          JobEvents.retried,
          { attempt: this.attempt, maxAttempts: this.maxAttempts, completedSteps: this.completedSteps, runId: this.runId },
          user,
        );
        this.start();
        this.complete();
        break;
      case 'failed': {
        this.runSteps(half);
        const permanent = rng.chance(0.3);
        if (!permanent) this.attemptFailures(this.maxAttempts - 1);
        if (!permanent && timeoutMs !== null && rng.chance(0.3)) {
          this.fail(
            `Job timed out after ${Math.round(timeoutMs / 1000)}s of running time (paused time not counted)`,
            'JobTimeout',
          );
        } else if (permanent) this.fail('HTTP 404 from https://api.example.com/v1/items', 'PermanentJobError');
        else this.fail(`simulated failure (attempt ${this.attempt})`, 'Error');
        break;
      }
      case 'cancelled': {
        this.runSteps(half);
        this.later(100, 60_000);
        const who = rng.chance(0.5) ? { actor: this.actor, reason: 'no longer needed' } : user;
        this.record(JobEvents.cancelled, { from: 'running', completedSteps: this.completedSteps }, who);
        this.status = 'cancelled';
        break;
      }
      case 'running':
        this.runSteps(half);
        break;
      case 'paused':
        this.runSteps(half);
        this.later(100, 60_000);
        this.record(JobEvents.paused, { from: 'running' }, { actor: this.actor, reason: 'waiting for approval' });
        this.status = 'paused';
        if (rng.chance(0.2)) {
          this.later(100, 60_000);
          this.record(
            JobEvents.signalIgnored,
            { signal: 'pause', why: 'Job is already paused', status: 'paused' },
            { actor: 'external' },
          );
        }
        break;
      case 'terminated':
      case 'timed_out': {
        // Closed from outside: the reconciler writes the last event (its own id and metadata shape).
        this.runSteps(half);
        this.later(1000, 600_000);
        const terminated = outcome === 'terminated';
        const closedAt = iso(this.t);
        const reason = terminated ? 'terminated through Temporal' : 'workflow execution timed out';
        this.events.push({
          eventId: `${this.jobId}:${this.runId}:closed-outside`,
          type: terminated ? JobEvents.terminated : JobEvents.timedOut,
          data: { jobId: this.jobId, at: closedAt, closedAt, runId: this.runId, reason: terminated ? 'terminated' : reason },
          metadata: { actor: 'system:reconciler', reason, runId: this.runId, workflowId: this.jobId },
        });
        this.status = outcome;
        break;
      }
    }
    return this.result(createdAt);
  }

  private result(createdAt: string): GeneratedJob {
    return {
      jobId: this.jobId,
      type: this.type,
      priority: this.priority,
      owner: this.owner,
      status: this.status,
      createdAt,
      events: this.events,
    };
  }

  private record(type: string, data: Record<string, unknown>, who: { actor: string; reason?: string }): void {
    this.seq += 1;
    this.events.push({
      eventId: `${this.jobId}:${this.runId}:${this.seq}`,
      type,
      data: { jobId: this.jobId, at: iso(this.t), ...data },
      metadata: {
        actor: who.actor,
        ...(who.reason !== undefined ? { reason: who.reason } : {}),
        correlationId: this.batchId ?? this.jobId,
        causationId: this.runId,
        workflowId: this.jobId,
        runId: this.runId,
      },
    });
  }

  private later(minMs: number, maxMs: number): void {
    this.t += this.rng.int(minMs, maxMs);
  }

  private start(): void {
    this.later(5, 400);
    this.record(JobEvents.started, { attempt: this.attempt, step: this.completedSteps, startedAt: iso(this.t) }, SYSTEM);
    this.status = 'running';
  }

  /** Runs steps up to `until`; progress is throttled to one a second and never sent for the last step. */
  private runSteps(until: number): void {
    const plan = this.plan;
    while (this.completedSteps < until) {
      const d = Math.max(1, Math.round(plan.stepMs * (0.8 + this.rng.next() * 0.4)));
      this.t += d;
      this.activeMs += d;
      const file =
        plan.files === 'response'
          ? 'response.txt'
          : plan.files === 'parts'
            ? `part-${String(this.completedSteps).padStart(3, '0')}.csv`
            : null;
      if (file !== null && !this.resultFiles.includes(file)) this.resultFiles.push(file);
      this.completedSteps += 1;
      if (this.completedSteps < plan.totalSteps && (plan.stepMs >= 1000 || this.completedSteps === 1)) {
        this.record(
          JobEvents.progress,
          {
            completedSteps: this.completedSteps,
            totalSteps: plan.totalSteps,
            progress: Math.floor((this.completedSteps * 100) / plan.totalSteps),
            currentStep: this.completedSteps,
            estimatedRemainingS: Math.round(((plan.totalSteps - this.completedSteps) * plan.stepMs) / 100) / 10,
            resultFiles: [...this.resultFiles],
          },
          SYSTEM,
        );
      }
    }
  }

  private attemptFailures(count: number): void {
    for (let i = 0; i < count && this.attempt < this.maxAttempts; i++) {
      const delay = Math.round(1000 * 2 ** i * (0.8 + this.rng.next() * 0.4));
      this.record(
        JobEvents.attemptFailed,
        {
          attempt: this.attempt,
          error: `simulated failure (attempt ${this.attempt})`,
          errorType: 'Error',
          nextRetryAt: iso(this.t + delay),
          step: this.completedSteps,
        },
        SYSTEM,
      );
      this.attempt += 1;
      this.t += delay;
    }
  }

  private complete(): void {
    this.runSteps(this.plan.totalSteps);
    this.record(
      JobEvents.completed,
      {
        completedSteps: this.completedSteps,
        totalSteps: this.plan.totalSteps,
        result: this.plan.result,
        resultFiles: [...this.resultFiles],
        activeMs: this.activeMs,
        attempt: this.attempt,
      },
      SYSTEM,
    );
    this.status = 'completed';
  }

  private fail(error: string, errorType: string): void {
    this.record(
      JobEvents.failed,
      { error, errorType, attempt: this.attempt, completedSteps: this.completedSteps, activeMs: this.activeMs },
      SYSTEM,
    );
    this.status = 'failed';
  }
}
