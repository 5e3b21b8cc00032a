/** Waits until `predicate` holds (true) or `timeoutMs` passes (false), polling with a short backoff:
 * how a command waits for its effect to reach the read model or Temporal. */
export async function pollUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let wait = 5;
  while (!(await predicate())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(50, wait * 2);
  }
  return true;
}

/** Waits for `promise` to settle, at most `boundMs`; whether it did (its rejection counts as settled). */
export async function settledWithin(promise: Promise<unknown>, boundMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs)));
  try {
    return await Promise.race([promise.then(yes, yes), bound]);
  } finally {
    clearTimeout(timer);
  }
}
const yes = () => true as const;
