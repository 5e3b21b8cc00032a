import type { Client, WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

export interface WorkflowRun {
  runId: string;
  /** Causes of the run's failed workflow tasks, in order (1: UnhandledCommand, e.g. a refused continue-as-new). */
  failedTasks: number[];
  /** For each failed task: ms from its start until the next task completed (the time the run stood still). */
  stallsMs: number[];
  continuedAsNew: boolean;
  events: number;
}

const timeOf = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);

/** Every run of a workflow (its continue-as-new chain), newest first, read from their histories. */
export async function workflowRuns(client: Client, workflowId: string): Promise<WorkflowRun[]> {
  const runs: WorkflowRun[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const failedTasks: number[] = [];
    const stallsMs: number[] = [];
    let startedAt: number | undefined;
    let failedAt: number | undefined;
    for (const e of events) {
      if (e.workflowTaskStartedEventAttributes) startedAt = timeOf(e);
      else if (e.workflowTaskFailedEventAttributes) {
        failedTasks.push(Number(e.workflowTaskFailedEventAttributes.cause ?? 0));
        failedAt ??= startedAt;
      } else if (e.workflowTaskCompletedEventAttributes && failedAt !== undefined) {
        stallsMs.push(timeOf(e) - failedAt);
        failedAt = undefined;
      }
    }
    // A run closed by the task after a failed one (continue-as-new at the retry): the close ends the stall.
    if (failedAt !== undefined && events.length > 0) stallsMs.push(timeOf(events[events.length - 1]!) - failedAt);
    runs.push({
      runId,
      failedTasks,
      stallsMs,
      continuedAsNew: events.some((e) => e.workflowExecutionContinuedAsNewEventAttributes),
      events: events.length,
    });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}
