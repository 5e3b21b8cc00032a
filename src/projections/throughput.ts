/**
 * Throughput over time (GET /api/v1/stats/timeseries): how many jobs were submitted, finished in each
 * way and retried per minute and owner, counted from the job events themselves at each event's own
 * time — so a rebuild from the log gives the same table as the live projection, and deleting a job
 * later does not rewrite history.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { ScannedEvent } from '../eventstore/index.js';
import { JobEvents } from '../domain/index.js';
import type { Projection } from './jobProjection.js';
import type { ReadModelDb } from './readModelDb.js';
import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';

export const THROUGHPUT_COUNTERS = [
  'submitted',
  'completed',
  'failed',
  'cancelled',
  'terminated',
  'timed_out',
  'retried',
  'attempts_failed',
] as const;
export type ThroughputCounter = (typeof THROUGHPUT_COUNTERS)[number];

/** Width of a stored bucket; the API sums them into wider ones. */
export const THROUGHPUT_MINUTE_S = 60;

const COUNTER_OF_EVENT: Partial<Record<string, ThroughputCounter>> = {
  [JobEvents.submitted]: 'submitted',
  [JobEvents.completed]: 'completed',
  [JobEvents.failed]: 'failed',
  [JobEvents.cancelled]: 'cancelled',
  [JobEvents.terminated]: 'terminated',
  [JobEvents.timedOut]: 'timed_out',
  [JobEvents.retried]: 'retried',
  [JobEvents.attemptFailed]: 'attempts_failed',
};

/** The counter an event moves and the minute (epoch seconds) it falls in, or undefined. A worker lost
 * mid-step (`countsAsAttempt: false`) is not a failed attempt. */
export function throughputTick(event: ScannedEvent): { counter: ThroughputCounter; minute: number } | undefined {
  const counter = COUNTER_OF_EVENT[event.type];
  if (!counter) return undefined;
  const d = event.data as { at?: string; countsAsAttempt?: boolean };
  if (counter === 'attempts_failed' && d.countsAsAttempt === false) return undefined;
  const ms = Date.parse(d.at ?? event.recordedAt);
  if (!Number.isFinite(ms)) return undefined;
  return { counter, minute: Math.floor(ms / 1000 / THROUGHPUT_MINUTE_S) * THROUGHPUT_MINUTE_S };
}

export type ThroughputRow = { minute: number; owner: string; last_position: number } & Record<ThroughputCounter, number>;

/** The live projection's name (the rebuild counts these itself, with ThroughputTally). */
export const THROUGHPUT_PROJECTION = 'job_throughput';

const COLUMNS = ['minute', 'owner', ...THROUGHPUT_COUNTERS, 'last_position'] as const;

/** An owner's minute already there: the counts are added up. */
const ADD_ON_CONFLICT = `
    ON CONFLICT (minute, owner) DO UPDATE SET
      ${THROUGHPUT_COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')},
      last_position = max(last_position, excluded.last_position)`;

/**
 * job_throughput, live. Runs after the job projection, whose row gives the owner (events of a job the
 * read model does not know — deleted, or never submitted — are not counted, in the rebuild neither).
 */
export function throughputProjection(): Projection {
  let preparedFor: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      owner: db.prepare<[string], { owner: string }>('SELECT owner FROM jobs WHERE id = ?'),
      lastPosition: db.prepare<[number, string], { last_position: number }>(
        'SELECT last_position FROM job_throughput WHERE minute = ? AND owner = ?',
      ),
      tick: Object.fromEntries(
        THROUGHPUT_COUNTERS.map((c) => [
          c,
          db.prepare(`INSERT INTO job_throughput (minute, owner, ${c}, last_position) VALUES (?, ?, 1, ?)
            ON CONFLICT (minute, owner) DO UPDATE SET ${c} = ${c} + 1, last_position = excluded.last_position`),
        ]),
      ) as Record<ThroughputCounter, Statement<[number, string, number]>>,
    };
  }
  return {
    name: THROUGHPUT_PROJECTION,
    apply(db, event) {
      const tick = throughputTick(event);
      if (!tick) return;
      if (preparedFor !== db) {
        s = prepare(db);
        preparedFor = db;
      }
      const owner = s.owner.get(event.streamId)?.owner;
      if (owner === undefined) return;
      const before = s.lastPosition.get(tick.minute, owner);
      if (before && event.globalPosition <= before.last_position) return; // delivered again
      s.tick[tick.counter].run(tick.minute, owner, event.globalPosition);
    },
  };
}

/** job_throughput for the rebuild: counted in memory while the log is folded (per partition of the
 * job streams), the partitions' rows added up, written once at the end. */
export class ThroughputTally {
  /** owner → minute → row: no key string built per event (millions of events, ~100k rows). */
  private readonly byOwner = new Map<string, Map<number, ThroughputRow>>();

  /** `owner`: of the job's row after the event (undefined: not counted, as live). */
  add(event: ScannedEvent, owner: string | undefined): void {
    const tick = throughputTick(event);
    if (!tick || owner === undefined) return;
    const row = this.row(tick.minute, owner);
    row[tick.counter]++;
    if (event.globalPosition > row.last_position) row.last_position = event.globalPosition;
  }

  /**
   * Writes the tally into `job_throughput` (created bare first when `create`: a partition's scratch
   * file; added to the rows there when `add`), in key order so the table's primary key grows at its end.
   */
  write(db: Database, options: { create?: boolean; add?: boolean } = {}): void {
    if (options.create) db.exec(`CREATE TABLE job_throughput (${COLUMNS.join(', ')})`);
    const insert = db.prepare(
      `INSERT INTO job_throughput (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})` +
        (options.add ? ADD_ON_CONFLICT : ''),
    );
    const rows: ThroughputRow[] = [];
    for (const minutes of this.byOwner.values()) for (const row of minutes.values()) rows.push(row);
    rows.sort((a, b) => a.minute - b.minute || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
    const values: unknown[] = new Array(COLUMNS.length);
    for (const row of rows) {
      for (let c = 0; c < COLUMNS.length; c++) values[c] = row[COLUMNS[c]!];
      insert.run(...values); // as arguments: an array argument binds slower
    }
  }

  private row(minute: number, owner: string): ThroughputRow {
    let minutes = this.byOwner.get(owner);
    if (!minutes) this.byOwner.set(owner, (minutes = new Map()));
    let row = minutes.get(minute);
    if (!row) minutes.set(minute, (row = newThroughputRow(minute, owner)));
    return row;
  }
}

/** A row of zeros, spelled out: one object shape for every row (built per new minute and owner). */
const newThroughputRow = (minute: number, owner: string): ThroughputRow => ({
  minute,
  owner,
  submitted: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  terminated: 0,
  timed_out: 0,
  retried: 0,
  attempts_failed: 0,
  last_position: 0,
});

/**
 * Adds another partition's tally (its scratch file's `job_throughput`, attached as `schema`) into this
 * read model's, inside SQLite: an owner's minute may be counted in several partitions.
 */
export function addThroughputFrom(db: Database, schema: string): void {
  db.exec(`INSERT INTO job_throughput (${COLUMNS.join(', ')})
    SELECT ${COLUMNS.join(', ')} FROM ${schema}.job_throughput WHERE true${ADD_ON_CONFLICT}`);
}

export interface ThroughputBucket extends Record<ThroughputCounter, number> {
  /** ISO start of the bucket. */
  start: string;
}

/** Reads of job_throughput. */
export class ThroughputReadModel {
  private readonly holder: ReadModelHolder;

  /** Reads through the holder: it follows an online rebuild's swap. */
  constructor(source: ReadModelSource) {
    this.holder = ReadModelHolder.of(source);
  }

  /**
   * `count` buckets of `bucketSeconds` (a multiple of a minute) ending with the one that holds `now`,
   * oldest first, every bucket present (zeros where nothing happened); an owner's jobs only if given.
   */
  buckets(options: { bucketSeconds: number; count: number; owner?: string; now?: number }): ThroughputBucket[] {
    const { bucketSeconds, count, owner } = options;
    const nowS = Math.floor((options.now ?? Date.now()) / 1000);
    const last = Math.floor(nowS / bucketSeconds) * bucketSeconds;
    const first = last - (count - 1) * bucketSeconds;
    const sums = THROUGHPUT_COUNTERS.map((c) => `SUM(${c}) AS ${c}`).join(', ');
    const rows = this.holder
      .prepare<Record<string, unknown>, { bucket: number } & Record<ThroughputCounter, number>>(
        `SELECT (minute / CAST(@width AS INTEGER)) * CAST(@width AS INTEGER) AS bucket, ${sums} FROM job_throughput
          WHERE minute >= @first AND minute < @end ${owner !== undefined ? 'AND owner = @owner' : ''}
          GROUP BY bucket`,
      )
      .all({ width: bucketSeconds, first, end: last + bucketSeconds, owner });
    const byBucket = new Map(rows.map((r) => [r.bucket, r]));
    return Array.from({ length: count }, (_, i) => {
      const start = first + i * bucketSeconds;
      const row = byBucket.get(start);
      const counters = Object.fromEntries(THROUGHPUT_COUNTERS.map((c) => [c, row?.[c] ?? 0])) as Record<
        ThroughputCounter,
        number
      >;
      return { start: new Date(start * 1000).toISOString(), ...counters };
    });
  }
}
