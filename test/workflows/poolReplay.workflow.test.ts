import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { installRuntime } from '../../src/worker/engineWorkers.js';

/**
 * Pools are long-lived workflows: a run begun by one release of the engine is continued by the next.
 * Every change to poolWorkflow's commands must therefore replay the histories older releases wrote.
 * Each fixture is a real history (a pool of 2 slots, 6 jobs of 300 ms, its limit raised to 3 by PUT),
 * recorded from the dev server with the release named in its file name.
 */
const histories = ['pool-before-grants-in-flight.json'];

beforeAll(() => installRuntime());

describe('poolWorkflow replays the histories of earlier releases', () => {
  for (const name of histories) {
    it(name, async () => {
      // Stored as the SDK's fetchHistory() gave it, through JSON.stringify (protobufjs's object form).
      const json = JSON.parse(readFileSync(new URL(`../fixtures/histories/${name}`, import.meta.url), 'utf8'));
      const history = temporal.api.history.v1.History.fromObject(json);
      // The fixture is not trivially short: it holds picks, grants, releases and the limit's update.
      const types = new Set<string>(json.events.map((e: { eventType: string }) => e.eventType));
      expect(types).toContain('EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED');
      expect(types).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED');
      await expect(
        Worker.runReplayHistory(
          { workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)) },
          history,
          'pool-replay',
        ),
      ).resolves.toBeUndefined();
    });
  }
});
