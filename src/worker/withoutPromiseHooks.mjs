// Preloaded (`--import`) into the Temporal SDK's workflow threads when workflow stack traces are off
// (WORKFLOW_STACK_TRACES, see workflowStackTraces.ts). The SDK records a source-mapped stack for every
// promise workflow code creates, through a V8 promise hook, only to answer the stack-trace query; where
// it cannot create that hook (Bun, old Node) it runs without it and the query answers "not enabled".
// This puts the thread in that mode: the SDK's own request for a hook (its GlobalHandlers'
// setPromiseHook, in vm-shared) is refused. Every other caller gets its hook as before: Node's
// AsyncLocalStorage, which the SDK's cancellation scopes use inside workflow code (so the SDK's files
// are further down that stack too), needs one. Only the direct caller is looked at, whatever
// Error.stackTraceLimit the process runs with.
import v8 from 'node:v8';

const createHook = v8.promiseHooks.createHook;

/** The frame that called the function calling this. */
function callerFrame() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 3; // this function, createHook's replacement, its caller
  try {
    return (new Error().stack ?? '').split('\n')[3] ?? '';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

v8.promiseHooks.createHook = function (hooks) {
  const caller = callerFrame();
  if (/setPromiseHook|[\\/]@temporalio[\\/]worker[\\/].*vm-shared\.[cm]?[jt]s\b/.test(caller)) {
    throw new Error('workflow stack traces are off in this thread (WORKFLOW_STACK_TRACES)');
  }
  return createHook.call(this, hooks);
};
