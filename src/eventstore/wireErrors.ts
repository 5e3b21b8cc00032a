import Database from 'better-sqlite3';
import { ConcurrencyError, EventIdConflictError, InvalidEventError } from './errors.js';
import type { ExpectedVersion } from './typing.js';

/**
 * An error as it crosses from the append thread to its caller. A structured clone keeps an Error's
 * message but not its class or fields, and callers tell the store's errors apart by class
 * (`instanceof ConcurrencyError`) and SQLite's by `code`, so both are carried and rebuilt.
 */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** SqliteError's code (SQLITE_BUSY, SQLITE_IOERR…). */
  code?: string;
  streamId?: string;
  expected?: ExpectedVersion;
  actual?: number;
  eventId?: string;
}

export const toWireError = (error: unknown): WireError => {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const wire: WireError = { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  if (error instanceof ConcurrencyError)
    return { ...wire, streamId: error.streamId, expected: error.expected, actual: error.actual };
  if (error instanceof EventIdConflictError) return { ...wire, eventId: error.eventId };
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { ...wire, code } : wire;
};

export const fromWireError = (wire: WireError): Error => {
  let error: Error;
  if (wire.name === 'ConcurrencyError')
    error = new ConcurrencyError(wire.streamId ?? '', wire.expected ?? 'any', wire.actual ?? 0);
  else if (wire.name === 'EventIdConflictError') error = new EventIdConflictError(wire.eventId ?? '', '');
  else if (wire.name === 'InvalidEventError') error = new InvalidEventError(wire.message);
  else if (wire.name === 'SqliteError' && wire.code !== undefined) error = new Database.SqliteError(wire.message, wire.code);
  else {
    error = new Error(wire.message);
    if (wire.name !== 'Error') Object.defineProperty(error, 'name', { value: wire.name, configurable: true, writable: true });
  }
  // The message and stack are the thread's own (the place it failed), not the ones rebuilt here.
  error.message = wire.message;
  if (wire.stack) error.stack = wire.stack;
  return error;
};
