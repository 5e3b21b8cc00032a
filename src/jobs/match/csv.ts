/** Reading and writing CSV for the match job: csv-parse and csv-stringify, streaming, BOM-aware. */
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { parse, type Options } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/** Largest record read (a stray quote would otherwise swallow the rest of the file). */
export const MAX_RECORD_BYTES = 1 << 20;

export const parseOptions = (delimiter: string): Options => ({
  bom: true,
  delimiter,
  relax_column_count: true,
  skip_empty_lines: true,
  max_record_size: MAX_RECORD_BYTES,
});

/** The first record of a CSV file (its header), read synchronously from the file's first bytes: the
 * submit-time check of column names. Throws when the start of the file is not CSV. */
export function readHeaderSync(file: string, delimiter: string): string[] {
  const fd = openSync(file, 'r');
  let bytes: Buffer;
  try {
    const buffer = Buffer.alloc(256 * 1024);
    bytes = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0));
  } finally {
    closeSync(fd);
  }
  // The header ends at a newline outside quotes: try each newline until the text before it parses.
  let lastError: unknown;
  for (let end = bytes.indexOf(10), tries = 0; tries < 64; end = bytes.indexOf(10, end + 1), tries++) {
    const text = end === -1 ? bytes : bytes.subarray(0, end + 1);
    try {
      const records = parseSync(text, { ...parseOptions(delimiter), to: 1 }) as string[][];
      if (records.length > 0) return records[0]!;
      if (end === -1) break;
    } catch (error) {
      lastError = error;
      if (end === -1) break;
    }
  }
  throw new Error(`no CSV header in the first bytes${lastError ? ` (${(lastError as Error).message})` : ''}`);
}

/** One record and the byte offset just past it (where reading may resume). */
export interface CsvRecord {
  record: string[];
  /** Absolute byte offset after this record. */
  end: number;
}

/** Records of a CSV file from byte `start` (a record boundary: 0 or an `end` seen before). */
export async function* readRecords(file: string, delimiter: string, start = 0): AsyncGenerator<CsvRecord> {
  const source = createReadStream(file, { start, highWaterMark: 256 * 1024 });
  const parser = parse({ ...parseOptions(delimiter), info: true });
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      yield { record, end: start + info.bytes };
    }
  } finally {
    source.destroy();
    parser.destroy();
  }
}

/** Rows as CSV text (RFC 4180 quoting, `\n` line ends). */
export function csvLines(rows: readonly (readonly unknown[])[]): string {
  return rows.length === 0 ? '' : stringify(rows as unknown[][]);
}
