/** The schedules resource's zod schemas (recurring jobs): they validate requests, type handlers and
 * generate the OpenAPI document, like those in schemas.ts. */
import { z } from '@hono/zod-openapi';
import { JobStatusEnum, Priority, SubmitJobBody } from './schemas.js';
import { DURATION_HINT, OVERLAP_POLICIES, isKnownTimeZone, parseDuration } from '../schedules/scheduleSpec.js';

export const ScheduleId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'letters, digits, ".", "_" and "-" only, starting with a letter or digit' })
  // Its runs' job ids are `<id>-<time>`: none of them may look like a schedule's stream (`schedule-<id>`).
  .refine((id) => !id.startsWith('schedule-'), { error: 'must not start with "schedule-"' })
  .openapi({ example: 'nightly-export' });
export const ScheduleIdParam = z.object({
  schedule_id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'schedule_id', in: 'path' }, example: 'nightly-export' }),
});

const Duration = z
  .string()
  .max(50)
  .refine((text) => parseDuration(text) !== undefined, { error: DURATION_HINT })
  .openapi({ example: '5m' });

const Interval = z
  .object({
    every: Duration.openapi({ example: '1h' }),
    offset: Duration.optional().openapi({ description: 'Phase within the interval, less than every', example: '5m' }),
  })
  .strict()
  .superRefine((interval, ctx) => {
    const every = parseDuration(interval.every);
    const offset = interval.offset === undefined ? 0 : parseDuration(interval.offset);
    if (every === undefined || offset === undefined) return; // reported by the field
    if (every < 1000) ctx.addIssue({ code: 'custom', path: ['every'], message: 'must be at least 1s' });
    else if (offset >= every) ctx.addIssue({ code: 'custom', path: ['offset'], message: 'must be less than every' });
  });

export const ScheduleSpecSchema = z
  .object({
    cron_expressions: z
      .array(z.string().min(1).max(200))
      .max(20)
      .optional()
      .openapi({
        description: 'Cron expressions as Temporal reads them (5-7 fields, @daily, @every 1h …); checked by Temporal',
        example: ['0 9 * * MON-FRI'],
      }),
    intervals: z.array(Interval).max(20).optional(),
    time_zone: z
      .string()
      .min(1)
      .max(100)
      .refine(isKnownTimeZone, { error: 'unknown time zone (give an IANA name such as Europe/Berlin)' })
      .optional()
      .openapi({ description: 'IANA time zone of the cron expressions; default UTC', example: 'Europe/Berlin' }),
    jitter: Duration.optional().openapi({ description: 'Each action starts up to this much later, at random', example: '30s' }),
    start_at: z.iso.datetime({ offset: true }).optional().openapi({ description: 'No action before' }),
    end_at: z.iso.datetime({ offset: true }).optional().openapi({ description: 'No action after' }),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (!spec.cron_expressions?.length && !spec.intervals?.length)
      ctx.addIssue({ code: 'custom', message: 'give cron_expressions or intervals (or both)' });
    if (spec.start_at && spec.end_at && Date.parse(spec.end_at) <= Date.parse(spec.start_at))
      ctx.addIssue({ code: 'custom', path: ['end_at'], message: 'must be after start_at' });
  })
  .openapi('ScheduleSpec');

const Overlap = z.enum(OVERLAP_POLICIES).openapi({
  description: 'When an action would start while a run of the schedule is still going (Temporal overlap policy)',
});

export const SchedulePolicyBody = z
  .object({
    overlap: Overlap.optional().openapi({ description: 'Default skip' }),
    catchup_window: Duration.optional().openapi({ description: 'How late a missed action may still start; default 1 year' }),
    pause_on_failure: z.boolean().optional().openapi({ description: 'Pause the schedule when a run fails; default false' }),
  })
  .strict()
  .openapi('SchedulePolicyRequest');

/** The job of every action: the fields of a job submit but its start time and dependencies (each
 * run starts when the schedule says), validated the same way. */
export const ScheduleJobBody = SubmitJobBody.omit({ delay_seconds: true, scheduled_at: true, depends_on: true }).openapi(
  'ScheduleJobRequest',
);

/** A change of the job: any of its fields; input replaces the input; timeout_seconds null removes it. */
const ScheduleJobPatch = SubmitJobBody.omit({
  delay_seconds: true,
  scheduled_at: true,
  depends_on: true,
  priority: true,
  timeout_seconds: true,
})
  .partial()
  .extend({
    priority: Priority.optional(),
    timeout_seconds: SubmitJobBody.shape.timeout_seconds.unwrap().nullable().optional(),
  })
  .openapi('ScheduleJobPatch');

export const CreateScheduleBody = z
  .object({
    schedule_id: ScheduleId.optional().openapi({
      description:
        'Your id for the schedule (also in `temporal schedule`); default sched_<uuid>. A second create with it is a 409.',
    }),
    name: z.string().min(1).max(200).optional().openapi({ description: "Default: the job's name" }),
    spec: ScheduleSpecSchema,
    policy: SchedulePolicyBody.optional(),
    job: ScheduleJobBody,
    paused: z.boolean().optional().openapi({ description: 'Create it paused' }),
    note: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('CreateScheduleRequest');

export const UpdateScheduleBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    spec: ScheduleSpecSchema.optional().openapi({ description: 'Replaces the spec' }),
    policy: SchedulePolicyBody.optional().openapi({ description: 'Merged over the current policy' }),
    job: ScheduleJobPatch.optional().openapi({ description: 'Merged over the current job' }),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.spec || body.policy || body.job, {
    error: 'give at least one of name, spec, policy, job',
  })
  .openapi('UpdateScheduleRequest');

export const TriggerScheduleBody = z
  .object({
    overlap: Overlap.optional().openapi({ description: 'For this action only; default allow_all (runs even if a run is going)' }),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('TriggerScheduleRequest');

const ScheduleLiveInfo = z
  .object({
    paused: z.boolean(),
    note: z.string().nullable(),
    next_action_times: z.array(z.string()),
    recent_actions: z.array(z.object({ scheduled_at: z.string(), taken_at: z.string(), job_id: z.string() })),
    running_job_ids: z.array(z.string()),
    actions_taken: z.number().int(),
    actions_skipped_overlap: z.number().int(),
    actions_missed_catchup_window: z.number().int(),
  })
  .openapi('ScheduleLiveInfo');

export const ScheduleResource = z
  .object({
    id: z.string(),
    name: z.string(),
    user_id: z.string(),
    paused: z.boolean().openapi({ description: 'As recorded (info.paused is what Temporal says now)' }),
    note: z.string().nullable(),
    spec: ScheduleSpecSchema,
    spec_summary: z.string(),
    policy: z.object({
      overlap: z.enum(OVERLAP_POLICIES),
      catchup_window: z.string().nullable(),
      pause_on_failure: z.boolean(),
    }),
    job: z.object({
      name: z.string(),
      type: z.string(),
      input: z.unknown(),
      priority: z.number().int(),
      timeout_seconds: z.number().nullable(),
      pool: z.string().optional(),
      weight: z.number().int().optional(),
    }),
    created_at: z.string(),
    updated_at: z.string(),
    info: ScheduleLiveInfo.nullable().openapi({
      description:
        "Temporal's live view (describe): next action times, recent runs. null in lists, and when Temporal does not know the schedule",
    }),
  })
  .openapi('Schedule');

export const ScheduleCreatedResponse = z.object({ schedule_id: z.string(), message: z.string() }).openapi('ScheduleAccepted');

export const ScheduleSuccess = z
  .object({
    success: z.literal(true),
    message: z.string(),
    job_id: z.string().nullable().optional().openapi({
      description: 'trigger: the run it started, when Temporal lists exactly one new run within 3 s; else null',
    }),
    schedule: ScheduleResource.optional(),
  })
  .openapi('ScheduleSuccess');

const Limit = z.coerce.number().int().min(1).max(1000).default(50);
const Cursor = z.string().max(500).optional().openapi({ description: 'From the X-Next-Cursor header of the previous page' });

export const ListSchedulesQuery = z.object({ limit: Limit, cursor: Cursor });
export const ScheduleRunsQuery = z.object({ status: JobStatusEnum.optional(), limit: Limit, cursor: Cursor });
