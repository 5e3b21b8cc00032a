import type { Statement } from 'better-sqlite3';
import type { ReadModelDb } from './readModelDb.js';

/**
 * The read model's connection as every reader and the projector hold it: one object, so an online
 * rebuild can put a new connection in place between two requests (`swap`) and every read model, the
 * projector and the scheduler's activities use it from their next call on. Nothing may keep a
 * statement of the connection past a call: statements come from `prepare` (cached per connection)
 * or `perConnection`, both of which follow a swap.
 */
export class ReadModelHolder {
  private current: ReadModelDb;
  private statements = new Map<string, Statement<any, any>>();
  private swaps = 0;

  constructor(db: ReadModelDb) {
    this.current = db;
  }

  /** A holder of `source` itself, or of a plain connection that never changes (tests, tools, benches). */
  static of(source: ReadModelSource): ReadModelHolder {
    return source instanceof ReadModelHolder ? source : new ReadModelHolder(source);
  }

  /** The connection now. Use it within one call, never keep it. */
  get db(): ReadModelDb {
    return this.current;
  }

  /** How many times the connection was replaced (0: the one it started with). */
  get generation(): number {
    return this.swaps;
  }

  /** A statement of the current connection, prepared once per SQL text and connection. */
  prepare<P extends unknown[] | Record<string, unknown> = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.current.prepare(sql)));
    return statement as Statement<P, R>;
  }

  /** What `make` builds from a connection (prepared statements, a transaction), built again after a swap. */
  perConnection<T>(make: (db: ReadModelDb) => T): () => T {
    let builtFor: ReadModelDb | undefined;
    let value: T;
    return () => {
      if (builtFor !== this.current) {
        value = make(this.current);
        builtFor = this.current;
      }
      return value;
    };
  }

  /** Puts `next` in place of the current connection and returns the one it replaced (the caller closes it). */
  swap(next: ReadModelDb): ReadModelDb {
    const previous = this.current;
    this.current = next;
    this.statements = new Map();
    this.swaps++;
    return previous;
  }
}

/** What read models and the projector are built on: the holder, or a plain connection (it never changes). */
export type ReadModelSource = ReadModelDb | ReadModelHolder;
