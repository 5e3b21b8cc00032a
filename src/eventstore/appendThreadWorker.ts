/**
 * The append thread (see appendThread.ts): its own connection to the store's file, committing each
 * group it is sent with the same code the store's own connection uses. Messages in: `AppendThreadOrder`
 * on the port in `workerData.port`; out: `AppendThreadReply`, each followed by a tick of
 * `workerData.replies` so a caller blocked in `Atomics.wait` (the store's close()) wakes.
 */
import Database from 'better-sqlite3';
import { workerData, type MessagePort } from 'node:worker_threads';
import type { AppendThreadOrder, AppendThreadReply, AppendThreadSetup } from './appendThread.js';
import { prepareCommitGroup, type Outcome } from './groupCommit.js';
import { prepareAppendToStream } from './schema/appendToStream.js';
import { applyConnectionPragmas } from './schema/connectionPragmas.js';
import { toWireError } from './wireErrors.js';

const setup = workerData as AppendThreadSetup & { port: MessagePort; replies: Int32Array };
const { port, replies } = setup;

const reply = (message: AppendThreadReply) => {
  port.postMessage(message);
  Atomics.add(replies, 0, 1);
  Atomics.notify(replies, 0);
};

let db: Database.Database | undefined;
let commitGroup: ReturnType<typeof prepareCommitGroup> | undefined;
try {
  // The store's opener created the file and its schema; this thread only writes rows.
  db = new Database(setup.path, { fileMustExist: true, timeout: setup.busyTimeoutMs });
  applyConnectionPragmas(db, { busyTimeoutMs: setup.busyTimeoutMs, readonly: false, synchronous: setup.synchronous });
  commitGroup = prepareCommitGroup(db, prepareAppendToStream(db));
} catch (error) {
  db?.close();
  db = undefined;
  reply({ kind: 'broken', error: toWireError(error) });
}

const wireOutcome = (outcome: Outcome) => (outcome.ok ? outcome : { ok: false as const, error: toWireError(outcome.error) });

port.on('message', (order: AppendThreadOrder) => {
  if (order.kind === 'close') {
    db?.close();
    db = undefined;
    reply({ kind: 'closed' });
    port.close();
    return;
  }
  if (commitGroup === undefined) {
    reply({ kind: 'failed', id: order.id, error: { name: 'Error', message: 'the append thread has no connection' } });
    return;
  }
  try {
    reply({ kind: 'committed', id: order.id, outcomes: commitGroup(order.calls).map(wireOutcome) });
  } catch (error) {
    reply({ kind: 'failed', id: order.id, error: toWireError(error) });
  }
});
