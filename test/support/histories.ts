import type { WorkflowHandle } from '@temporalio/client';

/** The events of a workflow run's history, as the client's fetchHistory() gives them. */
export type HistoryEvents = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;

/** How many workflow tasks the run completed. */
export const workflowTasksOf = (events: HistoryEvents): number =>
  events.filter((e) => e.workflowTaskCompletedEventAttributes).length;

/** The values the run upserted into its JobStatus search attribute, in order. */
export const jobStatusUpserts = (events: HistoryEvents): string[] =>
  events.flatMap((e) => {
    const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.JobStatus;
    return field?.data ? [JSON.parse(Buffer.from(field.data).toString('utf8')) as string] : [];
  });
