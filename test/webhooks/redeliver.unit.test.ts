import { describe, expect, it } from 'vitest';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WebhookCommands, type WebhookCommandsDeps } from '../../src/commands/webhookCommands.js';
import { DomainError } from '../../src/domain/index.js';
import type { DeliveryRow } from '../../src/projections/webhookReadModel.js';
import { DEFAULT_WEBHOOK_RETRY } from '../../src/webhooks/retryPolicy.js';

/**
 * A delivery shows `delivered` as soon as its run records it, a moment before that run closes: a
 * redelivery asked for in that moment must wait for the close, not answer 409 (it did, in CI).
 */
function commandsWith(runStatuses: string[]) {
  const starts: string[] = [];
  let described = 0;
  const client = {
    workflow: {
      async start(_workflow: unknown, options: { workflowId: string }) {
        starts.push(options.workflowId);
        if (runStatuses[Math.min(described, runStatuses.length - 1)] === 'RUNNING')
          throw new WorkflowExecutionAlreadyStartedError('already started', options.workflowId, 'webhookDeliveryWorkflow');
        return {};
      },
      getHandle: () => ({
        async describe() {
          const name = runStatuses[Math.min(described, runStatuses.length - 1)]!;
          described++;
          return { status: { name } };
        },
      }),
    },
  } as unknown as Client;
  const deps = {
    client,
    taskQueue: 'q',
    readModel: {},
    projection: { waitUntil: async () => true, waitFor: async () => true },
    retry: DEFAULT_WEBHOOK_RETRY,
    requestTimeoutMs: 1000,
  } as unknown as WebhookCommandsDeps;
  return { commands: new WebhookCommands(deps), starts, described: () => described };
}

const delivery = (status: DeliveryRow['status']) =>
  ({
    id: 'webhook-wh_1-7',
    webhook_id: 'wh_1',
    status,
    redeliveries: 0,
    body: '{}',
    url: 'https://example.test/',
  }) as DeliveryRow;

describe('redeliver', () => {
  it('waits for a finished delivery’s run to close, then starts the redelivery', async () => {
    const { commands, starts, described } = commandsWith(['RUNNING', 'RUNNING', 'COMPLETED']);
    await commands.redeliver(delivery('delivered'), 'user:alice');
    expect(starts).toEqual(['webhook-wh_1-7', 'webhook-wh_1-7']);
    expect(described()).toBe(3);
  });

  it('answers 409 at once for a delivery still pending', async () => {
    const { commands, starts, described } = commandsWith(['RUNNING']);
    const error = await commands.redeliver(delivery('pending'), 'user:alice').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('conflict');
    expect(starts).toHaveLength(1);
    expect(described()).toBe(0);
  });
});
