import { ControlNotTakenYet } from '../commands/controlWait.js';

/**
 * Runs a control (of a job or a batch) and makes its answer: 200 with the target after it, or 202
 * (`pending: true`) with the target as it is when its workflow did not take the control within the
 * wait (ControlNotTakenYet). `resource` makes the body's field for the target (`{job}` or `{batch}`).
 */
export async function controlAnswer<R, B extends object>(control: {
  /** Names the control in a 202's message ("Pause", "Priority change"). */
  what: string;
  /** The 200's message. */
  done: string;
  run: () => Promise<R>;
  /** The target as the read model has it now. */
  current: () => R;
  resource: (target: R) => B;
}) {
  try {
    const after = await control.run();
    return { status: 200 as const, body: { success: true as const, message: control.done, ...control.resource(after) } };
  } catch (error) {
    if (!(error instanceof ControlNotTakenYet)) throw error;
    const message = `${control.what} ${error.message}`;
    const body = { success: true as const, pending: true as const, message, ...control.resource(control.current()) };
    return { status: 202 as const, body };
  }
}

/**
 * controlAnswer for one kind of target (jobs, batches): `reload` reads a target from the read model,
 * `resource` makes the body's field for it. The answer of a control of `row`: see controlAnswer.
 */
export function controlAnswers<R extends { id: string }, B extends object>(target: {
  reload: (id: string) => R | undefined;
  resource: (target: R) => B;
}) {
  return (row: R, what: string, done: string, run: () => Promise<R>) =>
    controlAnswer({ what, done, run, current: () => target.reload(row.id) ?? row, resource: target.resource });
}

/** `pause` → `Pause`. */
export const capitalized = (word: string): string => `${word[0]!.toUpperCase()}${word.slice(1)}`;
