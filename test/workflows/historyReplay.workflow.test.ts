import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { installRuntime } from '../../src/worker/engineWorkers.js';

/**
 * Pools are long-lived workflows, and a job may run for days: a run begun by one release of the
 * engine is continued by the next. Every change to a workflow's commands must therefore replay the
 * histories older releases wrote. Each fixture is a real history recorded from the dev server with
 * the release named in its file name (patched() keeps the older path for them).
 */
const histories: { file: string; contains: string[]; signals: string[] }[] = [
  {
    // A pool of 2 slots, 6 jobs of two 300 ms steps, one paused and resumed: the pool signalled each
    // grant itself, before its pick told the jobs (pool-grants-by-pick).
    file: 'pool-before-grants-by-pick.json',
    contains: ['SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'EXTERNAL_WORKFLOW_EXECUTION_SIGNALED'],
    signals: ['poolSlotGranted', 'poolRequest'],
  },
  {
    // A pool of 2 slots whose pick is remote (its workers in other processes, as the production
    // topology), 11 jobs, one paused, one cancelled, one failed, a worker killed: the pool signalled
    // each grant itself, as remote picks did until pool-grants-by-pick covered them too.
    file: 'pool-remote-before-grants-by-pick.json',
    contains: ['SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'ACTIVITY_TASK_COMPLETED'],
    signals: ['poolSlotGranted', 'poolRequest'],
  },
  {
    // A pool of 2 slots, 6 jobs of 300 ms, its limit raised to 3 by PUT.
    file: 'pool-before-grants-in-flight.json',
    contains: ['SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // A pool of 2 slots, 5 jobs of two 150 ms steps, one paused in line and resumed; finished jobs
    // signalled their release.
    file: 'pool-before-release-by-read-model.json',
    contains: ['SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'MARKER_RECORDED'],
    signals: ['poolSlotGranted', 'poolRequest', 'poolRelease'],
  },
  {
    // A job of that pool that ran at once and signalled its release at the end.
    file: 'job-ran-before-release-by-read-model.json',
    contains: ['ACTIVITY_TASK_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolRequest', 'poolSlotGranted', 'poolRelease'],
  },
  {
    // One paused (Update) while in line, resumed, then run.
    file: 'job-paused-in-line-before-release-by-read-model.json',
    contains: ['WORKFLOW_EXECUTION_UPDATE_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolRequest', 'poolSlotGranted', 'poolRelease'],
  },
  {
    // The first run of a pool of 2 slots continuing as new every 60 events while 24 jobs of 100 ms
    // came, closed before the pool held its wake-ups to close quietly.
    file: 'pool-continued-as-new-before-quiet-close.json',
    contains: ['WORKFLOW_EXECUTION_CONTINUED_AS_NEW', 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'MARKER_RECORDED'],
    signals: ['poolRequest', 'poolSlotGranted'],
  },
  {
    // A later run of that pool (carried holders), whose continue-as-new Temporal refused once
    // (UnhandledCommand: a signal came during the task) before it closed.
    file: 'pool-carried-before-quiet-close.json',
    contains: ['WORKFLOW_TASK_FAILED', 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW'],
    signals: ['poolRequest', 'poolSlotGranted'],
  },
  {
    // A job (behaviour revision 1) that waited more than 3 s in a full pool's line and asked the pool
    // itself by signal, before jobs asked through the read model's owner.
    file: 'job-asked-pool-by-signal-before-revision-2.json',
    contains: ['TIMER_FIRED', 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolRequest', 'poolSlotGranted'],
  },
  {
    // A noop job (behaviour revision 2) of a submit burst whose pool's grant came before its first
    // task: that task upserted JobStatus twice (queued, then running), before revision 3.
    file: 'job-early-grant-before-revision-3.json',
    contains: ['UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', 'ACTIVITY_TASK_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // A sleep job (behaviour revision 3) paused while its step ran and resumed before the step
    // stopped: back in line holding its slot, then a JobStarted when the next step began.
    file: 'job-resumed-holding-slot-before-revision-4.json',
    contains: ['ACTIVITY_TASK_CANCEL_REQUESTED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // A sleep job of 3 steps of 1.1 s (behaviour revision 4): the task that saw each of the first two
    // steps end appended its JobProgress by local activity, before the step recorded it (revision 5).
    file: 'job-steps-before-revision-5.json',
    contains: ['ACTIVITY_TASK_COMPLETED', 'MARKER_RECORDED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // A sleep job of 3 steps of 300 ms (behaviour revision 5): its waits for the record were
    // conditions in scopes of their own, and the run's end waited in three scopes (revision 6: plain
    // promises, one scope).
    file: 'job-steps-before-revision-6.json',
    contains: ['ACTIVITY_TASK_COMPLETED', 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // A batch of 8 noop jobs, 3 at a time, before it recorded its jobs' JobSubmitted itself.
    file: 'batch-before-recording-jobs-submitted.json',
    contains: ['START_CHILD_WORKFLOW_EXECUTION_INITIATED', 'CHILD_WORKFLOW_EXECUTION_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: [],
  },
  {
    // A batch of 12 sleep jobs, 3 at a time, paused, reprioritized, resumed and cancelled through the
    // API, before its controls to its jobs were sent from the engine's process: each one a
    // SignalExternal command of the batch (and a cancel request after each cancel).
    file: 'batch-controls-before-sent-from-process.json',
    contains: [
      'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED',
      'EXTERNAL_WORKFLOW_EXECUTION_SIGNALED',
      'REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED',
      'WORKFLOW_EXECUTION_COMPLETED',
    ],
    signals: ['pause', 'resume', 'reprioritize', 'cancel'],
  },
  {
    // A sleep job of 6 steps of 700 ms (behaviour revision 7) paused by a CLI signal while a step ran,
    // resumed by the API (Update), reprioritized by signal, paused by the API, resumed by signal: its
    // controls were taken first in their task (revision 8: after the task's other news).
    file: 'job-controls-revision-7.json',
    contains: ['ACTIVITY_TASK_CANCEL_REQUESTED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['pause', 'reprioritize', 'resume'],
  },
  {
    // A batch of 12 sleep jobs of two 300 ms steps, 3 at a time, paused by a CLI signal, resumed by the
    // API, reprioritized by signal, paused by the API, resumed by signal: controls sent to its jobs
    // from the engine's process, each control taken first in its task (since: after the task's news).
    file: 'batch-controls-sent-from-process.json',
    contains: ['CHILD_WORKFLOW_EXECUTION_COMPLETED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED', 'MARKER_RECORDED'],
    signals: ['pause', 'resume', 'reprioritize'],
  },
  {
    // A 2-step job (behaviour revision 8) signalled reprioritize and cancel while its completing task
    // ran: Temporal refused that task (UnhandledCommand) and the job, taking controls after the task's
    // other news, completed as the refused task had and recorded both signals as ignored.
    file: 'job-controls-at-its-end-revision-8.json',
    contains: ['WORKFLOW_TASK_FAILED', 'ACTIVITY_TASK_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['reprioritize', 'cancel'],
  },
  {
    // The same with Temporal's cancel (`temporal workflow cancel`): the job completed, nothing cancelled.
    file: 'job-temporal-cancel-at-its-end-revision-8.json',
    contains: ['WORKFLOW_TASK_FAILED', 'WORKFLOW_EXECUTION_CANCEL_REQUESTED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: [],
  },
  {
    // A batch of 3 jobs paused by signal while the task that completes it ran (refused): it completed
    // once and recorded the pause as ignored (controls taken after the task's news, by patched()).
    file: 'batch-paused-at-its-end.json',
    contains: ['WORKFLOW_TASK_FAILED', 'CHILD_WORKFLOW_EXECUTION_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['pause'],
  },
  {
    // A batch's noop job of revision 8: its first task recorded JobQueued and set the 3 s timer, the
    // pool's grant came by signal in a second task (which cancelled the timer and started the step).
    file: 'job-batch-grant-by-signal-revision-8.json',
    contains: ['TIMER_STARTED', 'WORKFLOW_EXECUTION_SIGNALED', 'TIMER_CANCELED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: ['poolSlotGranted'],
  },
  {
    // The same of revision 9: granted within its first task (awaitPoolGrant), no signal, no timer.
    file: 'job-batch-grant-in-task-revision-9.json',
    contains: ['MARKER_RECORDED', 'ACTIVITY_TASK_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'],
    signals: [],
  },
];

beforeAll(() => installRuntime());

describe('workflows replay the histories of earlier releases', () => {
  for (const { file, contains, signals } of histories) {
    it(file, async () => {
      // Stored as the SDK's fetchHistory() gave it, through JSON.stringify (protobufjs's object form).
      const json = JSON.parse(readFileSync(new URL(`../fixtures/histories/${file}`, import.meta.url), 'utf8'));
      const history = temporal.api.history.v1.History.fromObject(json);
      // The fixture is not trivially short: it holds what the change under test touches.
      const types = new Set<string>(json.events.map((e: { eventType: string }) => e.eventType.replace('EVENT_TYPE_', '')));
      for (const type of contains) expect(types).toContain(type);
      const signalNames = new Set<string>(
        json.events.flatMap((e: any) => {
          const a = e.signalExternalWorkflowExecutionInitiatedEventAttributes ?? e.workflowExecutionSignaledEventAttributes;
          return a ? [a.signalName] : [];
        }),
      );
      for (const name of signals) expect(signalNames).toContain(name);
      await expect(
        Worker.runReplayHistory(
          { workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)) },
          history,
          `replay-${file}`,
        ),
      ).resolves.toBeUndefined();
    });
  }
});
