/**
 * A schedule's spec, policy and job as the API takes them (snake_case, durations as text), and their
 * translation to Temporal's ScheduleSpec and policies. No cron parsing here: cron expressions go to
 * Temporal as they are, and Temporal's own validation answers for them. Pure: no I/O.
 */
import type { ScheduleOverlapPolicy, ScheduleSpec } from '@temporalio/client';

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** When a schedule acts: the union of its cron expressions and intervals. */
export interface ScheduleSpecInput {
  cron_expressions?: string[];
  intervals?: { every: string; offset?: string }[];
  /** IANA name (`Europe/Berlin`); default UTC. */
  time_zone?: string;
  jitter?: string;
  start_at?: string;
  end_at?: string;
}

/** What a schedule does when an action would overlap a running one, or was missed. */
export interface SchedulePolicy {
  overlap: OverlapPolicy;
  /** null: Temporal's default (1 year). */
  catchup_window: string | null;
  pause_on_failure: boolean;
}

/** The job every action starts (the fields of a job submit, validated the same way). */
export interface ScheduleJob {
  name: string;
  type: string;
  input: unknown;
  priority: number;
  timeout_seconds: number | null;
  /** Resource pool and slots, when given. */
  pool?: string;
  weight?: number;
}

export const DEFAULT_POLICY: SchedulePolicy = { overlap: 'skip', catchup_window: null, pause_on_failure: false };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** `30s`, `5m`, `1h30m`, `500ms`, `2d` → milliseconds; undefined when it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(value) * UNIT_MS[unit!]!;
  return Math.round(ms);
}

export const DURATION_HINT = 'must be a duration such as 30s, 5m, 1h30m or 2d';

/** Whether this runtime knows the IANA time zone (Temporal checks it again with its own tzdata). */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The spec as Temporal takes it (durations in ms, dates as Date). */
export function toTemporalSpec(spec: ScheduleSpecInput): ScheduleSpec {
  const ms = (text: string | undefined) => (text === undefined ? undefined : parseDuration(text));
  return {
    ...(spec.cron_expressions?.length ? { cronExpressions: spec.cron_expressions } : {}),
    ...(spec.intervals?.length
      ? { intervals: spec.intervals.map((i) => ({ every: ms(i.every)!, ...(i.offset ? { offset: ms(i.offset) } : {}) })) }
      : {}),
    ...(spec.time_zone ? { timezone: spec.time_zone } : {}),
    ...(spec.jitter ? { jitter: ms(spec.jitter) } : {}),
    ...(spec.start_at ? { startAt: new Date(spec.start_at) } : {}),
    ...(spec.end_at ? { endAt: new Date(spec.end_at) } : {}),
  };
}

/** The policies as Temporal takes them. */
export function toTemporalPolicies(policy: SchedulePolicy) {
  return {
    overlap: toTemporalOverlap(policy.overlap),
    ...(policy.catchup_window ? { catchupWindow: parseDuration(policy.catchup_window) } : {}),
    pauseOnFailure: policy.pause_on_failure,
  };
}

export const toTemporalOverlap = (overlap: OverlapPolicy) => overlap.toUpperCase() as Exclude<ScheduleOverlapPolicy, undefined>;

/** One line for lists: `cron "0 9 * * MON-FRI"; every 1h offset 5m in Europe/Berlin, jitter 30s`. */
export function summarizeSpec(spec: ScheduleSpecInput): string {
  const parts = [
    ...(spec.cron_expressions ?? []).map((c) => `cron "${c}"`),
    ...(spec.intervals ?? []).map((i) => `every ${i.every}${i.offset ? ` offset ${i.offset}` : ''}`),
  ];
  let text = parts.join('; ');
  if (spec.time_zone) text += ` in ${spec.time_zone}`;
  if (spec.jitter) text += `, jitter ${spec.jitter}`;
  if (spec.start_at) text += `, from ${spec.start_at}`;
  if (spec.end_at) text += `, until ${spec.end_at}`;
  return text;
}
