import { WorkflowNotFoundError } from '@temporalio/client';

/**
 * Sends a signal (or any call on a workflow handle) from this process, a few tries with a short pause
 * between them. A workflow that has finished or does not exist (WorkflowNotFoundError) is not tried
 * again: the caller counts it gone. What still fails after `tries` is thrown (the calling activity is
 * retried by Temporal, its signals carry what makes a repeat harmless).
 */
export async function signalWithTries<T>(send: () => Promise<T>, tries: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
