// Live job changes: one Server-Sent Events stream (GET /jobs/events) per tab, read with fetch() and a
// ReadableStream because EventSource cannot send the Authorization header. A dropped stream is reopened
// with Last-Event-ID, so no change is missed or seen twice. Pages subscribe; nothing polls.
import { authHeaders, dashboardConfig } from './api.js';

const bus = new EventTarget();
let lastEventId;
let state = 'connecting';
let controller;
let retryDelayMs = 500;

function setState(next) {
  state = next;
  bus.dispatchEvent(new CustomEvent('state', { detail: next }));
}

/** Splits an SSE byte stream into messages ({id, event, data}); comments (keep-alives) are skipped. */
async function* messagesOf(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { id: undefined, event: 'message', data: [] };
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') message.data.push(text);
        else if (field === 'id') message.id = text;
        else if (field === 'event') message.event = text;
      }
      if (message.data.length) yield { ...message, data: message.data.join('\n') };
    }
  }
}

async function run() {
  controller = new AbortController();
  const headers = { accept: 'text/event-stream', ...authHeaders() };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  try {
    const response = await fetch(`${dashboardConfig.apiBase}/jobs/events`, { headers, signal: controller.signal });
    if (response.status === 401) {
      setState('unauthorized');
      return; // restart() after a token is entered
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    setState('live');
    retryDelayMs = 500;
    for await (const message of messagesOf(response.body)) {
      lastEventId = message.id ?? lastEventId;
      let change;
      try {
        change = JSON.parse(message.data);
      } catch {
        continue;
      }
      bus.dispatchEvent(new CustomEvent('job', { detail: change }));
    }
    throw new Error('stream ended');
  } catch (error) {
    if (controller.signal.aborted) return;
    setState('reconnecting');
    setTimeout(run, retryDelayMs);
    retryDelayMs = Math.min(retryDelayMs * 2, 10_000);
    void error;
  }
}

/** (Re)opens the stream, e.g. after a token was entered. */
export function restartLive() {
  controller?.abort();
  setState('connecting');
  void run();
}

/** Calls `listener(change)` for every job change the caller may see ({job_id, type, data, …});
 * returns the unsubscribe function (for a component's cleanup). */
export function onJobChange(listener) {
  const handler = (event) => listener(event.detail);
  bus.addEventListener('job', handler);
  return () => bus.removeEventListener('job', handler);
}

/** Calls `listener(state)` when the stream's state changes ('connecting', 'live', 'reconnecting', 'unauthorized'). */
export function onLiveState(listener) {
  const handler = (event) => listener(event.detail);
  bus.addEventListener('state', handler);
  listener(state);
  return () => bus.removeEventListener('state', handler);
}

/**
 * Runs `task` at most once per `intervalMs` while changes keep coming (the first change runs it soon,
 * later ones are folded into the next run), and once more a second after the last run: the read model
 * is written by the projector a moment after the event streams by. Returns `trigger` and `cancel`.
 */
export function throttled(task, intervalMs) {
  let timer;
  let followUp;
  let last = 0;
  const cancel = () => {
    clearTimeout(timer);
    clearTimeout(followUp);
    timer = undefined;
  };
  return {
    trigger() {
      clearTimeout(followUp);
      if (timer) return;
      const wait = Math.max(150, last + intervalMs - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        task();
        followUp = setTimeout(task, 1000);
      }, wait);
    },
    cancel,
  };
}
