/**
 * The work of a `match` job. file2 is read once per worker process into memory (its cells prepared for
 * each mapping's scorer and put into blocks, cached between steps); file1 is streamed, a chunk of
 * `rows_per_step` rows per step. Every row of file1 is compared with the file2 rows of its blocks only;
 * its best match at or above the threshold is written out.
 *
 * A chunk step appends to working files of its own (`.match-<step>-*` in the job's results folder) and
 * checkpoints the byte length of each with the next row's offset in file1, so a step that is paused,
 * cancelled or loses its worker resumes at that row, after cutting the files back to the checkpoint:
 * no row is written twice or lost. The last step joins the chunks into the result files.
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { PermanentJobError, type StepContext, type StepOutput } from '../jobType.js';
import { BlockIndex, blockNames, type BlockingKey } from './blocking.js';
import { csvLines, readRecords } from './csv.js';
import { scorerFor, type MatchType, type Scorer } from './scorers.js';

export interface MatchMapping {
  file1_col: string;
  file2_col: string;
  match_type: MatchType;
  use_normalization: boolean;
  weight: number;
}

/** A validated `match` input (defaults applied). */
export interface MatchConfig {
  file1: string;
  file2: string;
  mappings: MatchMapping[];
  output_cols1: string[];
  output_cols2: string[];
  threshold: number;
  generate_unmatched: boolean;
  blocking: { keys: BlockingKey[]; max_block_size: number };
  rows_per_step: number;
  delimiter: string;
}

/** Where an uploaded file's bytes are (PermanentJobError when it is gone). */
export interface MatchFiles {
  resolve(fileId: string): { path: string; sha256: string };
}

export type MatchContext = Pick<StepContext, 'step' | 'totalSteps' | 'checkpoint' | 'signal' | 'progress' | 'resultFilePath'>;

/** How often a chunk step hands the event loop back, writes out and checkpoints (ms); tests set 0. */
export const matchTuning = { sliceMs: 50 };

export const RESULT_FILES = { matches: 'matches.csv', unmatched1: 'unmatched_file1.csv', unmatched2: 'unmatched_file2.csv' };

/** What a chunk step did (saved next to its working files; summed by the last step). */
export interface ChunkStats {
  rows: number;
  matched: number;
  comparisons: number;
  /** Offset in file1 after the chunk's last row: where the next chunk starts. */
  endOffset: number;
  /** Data rows of file1 before the next chunk. */
  endRow: number;
}

interface ChunkCheckpoint {
  /** Data row (0-based) of file1 to do next, and its byte offset. */
  row: number;
  offset: number;
  /** Byte lengths of the working files (matches, unmatched rows of file1, matched rows of file2). */
  bytes: [number, number, number];
  stats: Pick<ChunkStats, 'rows' | 'matched' | 'comparisons'>;
}

/** The summary the job returns as its result. */
export interface MatchSummary {
  rows_file1: number;
  rows_file2: number;
  matched: number;
  unmatched_file1: number | null;
  unmatched_file2: number | null;
  comparisons: number;
  /** comparisons / (rows_file1 × rows_file2): what blocking saved. */
  comparison_ratio: number;
  blocks: number;
  oversized_blocks: number;
  threshold: number;
  message: string;
}

// ---- file2: read once, prepared, blocked ----------------------------------------------------------------

interface Side2 {
  header: string[];
  rows: string[][];
  /** prepared[m][row]: the cell of mapping m prepared for its scorer. */
  prepared: unknown[][];
  index: BlockIndex;
}

let cachedSide2: { key: string; side: Promise<Side2> } | undefined;

function columnIndex(header: string[], column: string, side: 'file1' | 'file2'): number {
  const i = header.indexOf(column);
  if (i === -1) {
    const shown = header.slice(0, 30).join(', ');
    throw new PermanentJobError(`${side} has no column "${column}" (its columns: ${shown}${header.length > 30 ? ', …' : ''})`);
  }
  return i;
}

/** file2 prepared for the config (cached in this process for the next step of the same job). */
function loadSide2(config: MatchConfig, files: MatchFiles, heartbeat: () => void): Promise<Side2> {
  const file = files.resolve(config.file2);
  const key = JSON.stringify([
    file.path,
    file.sha256,
    config.delimiter,
    config.mappings.map((m) => [m.file2_col, m.match_type, m.use_normalization]),
    config.blocking,
  ]);
  if (cachedSide2?.key !== key) {
    const side = readSide2(config, file.path, heartbeat);
    cachedSide2 = { key, side };
    side.catch(() => {
      if (cachedSide2?.side === side) cachedSide2 = undefined;
    });
  }
  return cachedSide2.side;
}

async function readSide2(config: MatchConfig, file: string, heartbeat: () => void): Promise<Side2> {
  const scorers = config.mappings.map((m) => scorerFor(m.match_type, m.use_normalization));
  const keys = config.blocking.keys;
  let header: string[] | undefined;
  let columns: number[] = [];
  let keyColumns: number[] = [];
  const rows: string[][] = [];
  const prepared: unknown[][] = config.mappings.map(() => []);
  const index = new BlockIndex(keys, config.blocking.max_block_size);
  for await (const { record } of readRecords(file, config.delimiter)) {
    if (!header) {
      header = record;
      columns = config.mappings.map((m) => columnIndex(record, m.file2_col, 'file2'));
      keyColumns = keys.map((k) => columns[k.mapping]!);
      continue;
    }
    const row = rows.length;
    rows.push(record);
    for (let m = 0; m < scorers.length; m++) prepared[m]![row] = scorers[m]!.prepare(record[columns[m]!] ?? '');
    for (let k = 0; k < keys.length; k++) index.add(k, row, blockNames(record[keyColumns[k]!] ?? '', keys[k]!));
    if ((row & 0x3fff) === 0) heartbeat();
  }
  if (!header) throw new PermanentJobError('file2 is empty (no header row)');
  return { header, rows, prepared, index: index.seal() };
}

// ---- names and columns of the outputs --------------------------------------------------------------------

/** Output columns: the configured ones, or every column of that file. Names both files use get a
 * `_file1` / `_file2` suffix in the result. */
function outputLayout(config: MatchConfig, header1: string[], header2: string[]) {
  const cols1 = config.output_cols1.length ? config.output_cols1 : header1;
  const cols2 = config.output_cols2.length ? config.output_cols2 : header2;
  const idx1 = cols1.map((c) => columnIndex(header1, c, 'file1'));
  const idx2 = cols2.map((c) => columnIndex(header2, c, 'file2'));
  const both = new Set(cols1.filter((c) => cols2.includes(c)));
  const names1 = cols1.map((c) => (both.has(c) ? `${c}_file1` : c));
  const names2 = cols2.map((c) => (both.has(c) ? `${c}_file2` : c));
  const seen = new Set<string>();
  const scoreNames = config.mappings.map((m) => {
    const plain = `score_${m.file1_col}`;
    const name = seen.has(plain) ? `score_${m.file1_col}_${m.file2_col}` : plain;
    seen.add(name);
    return name;
  });
  return {
    idx1,
    idx2,
    matchesHeader: ['file1_row', 'file2_row', 'match_score', ...scoreNames, ...names1, ...names2],
    unmatched1Header: ['file1_row', ...cols1],
    unmatched2Header: ['file2_row', ...cols2],
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

// ---- steps --------------------------------------------------------------------------------------------

const workFile = (step: number, what: 'matches' | 'unmatched1' | 'matched2' | 'stats') =>
  `.match-${String(step).padStart(5, '0')}-${what}.${what === 'stats' ? 'json' : what === 'matched2' ? 'txt' : 'csv'}`;

/** Steps of a match job whose file1 has `lines` lines: one per chunk of rows, and the joining step. */
export function matchSteps(lines: number, rowsPerStep: number): number {
  return Math.max(1, Math.ceil(Math.max(0, lines - 1) / rowsPerStep)) + 1;
}

export async function runMatchStep(ctx: MatchContext, config: MatchConfig, files: MatchFiles): Promise<StepOutput> {
  const chunks = ctx.totalSteps - 1;
  if (chunks < 1) throw new PermanentJobError('a match job needs at least 2 steps');
  return ctx.step < chunks ? runChunk(ctx, config, files, chunks) : runJoin(ctx, config, files, chunks);
}

async function readStats(ctx: MatchContext, step: number): Promise<ChunkStats | undefined> {
  try {
    return JSON.parse(await readFile(await ctx.resultFilePath(workFile(step, 'stats')), 'utf8')) as ChunkStats;
  } catch {
    return undefined;
  }
}

/** Reads file1's header and the offset of its first data row. */
async function header1Of(file: string, delimiter: string): Promise<{ header: string[]; offset: number }> {
  for await (const { record, end } of readRecords(file, delimiter)) return { header: record, offset: end };
  throw new PermanentJobError('file1 is empty (no header row)');
}

/** Where chunk `step` starts in file1: after the previous chunk (its stats), else found by reading. */
async function chunkStart(ctx: MatchContext, config: MatchConfig, file1: string, firstOffset: number, startRow: number) {
  if (startRow === 0) return { row: 0, offset: firstOffset };
  const previous = await readStats(ctx, ctx.step - 1);
  if (previous && previous.endRow === startRow) return { row: startRow, offset: previous.endOffset };
  let row = 0;
  let offset = firstOffset;
  for await (const { end } of readRecords(file1, config.delimiter, firstOffset)) {
    if (row === startRow) break;
    row++;
    offset = end;
  }
  return { row, offset };
}

async function runChunk(ctx: MatchContext, config: MatchConfig, files: MatchFiles, chunks: number): Promise<StepOutput> {
  const heartbeat = () => ctx.progress(0);
  const side2 = await loadSide2(config, files, heartbeat);
  const file1 = files.resolve(config.file1).path;
  const { header: header1, offset: firstOffset } = await header1Of(file1, config.delimiter);
  const layout = outputLayout(config, header1, side2.header);
  const columns1 = config.mappings.map((m) => columnIndex(header1, m.file1_col, 'file1'));
  const keyColumns1 = config.blocking.keys.map((k) => columns1[k.mapping]!);
  const scorers: Scorer[] = config.mappings.map((m) => scorerFor(m.match_type, m.use_normalization));
  const weights = config.mappings.map((m) => m.weight);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  // Heaviest mappings first: a candidate that cannot reach the threshold is dropped soonest.
  const order = weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]!);

  const startRow = ctx.step * config.rows_per_step;
  // The last chunk takes every row left (a file with fewer newlines than rows, e.g. CR line ends).
  const endRow = ctx.step === chunks - 1 ? Number.MAX_SAFE_INTEGER : startRow + config.rows_per_step;
  const saved = ctx.checkpoint as ChunkCheckpoint | undefined;
  const at = saved ?? { ...(await chunkStart(ctx, config, file1, firstOffset, startRow)), bytes: [0, 0, 0] };
  const stats = { ...(saved?.stats ?? { rows: 0, matched: 0, comparisons: 0 }) };
  const bytes = [...at.bytes] as [number, number, number];

  const handles = await Promise.all(
    (['matches', 'unmatched1', 'matched2'] as const).map(async (what, i) => {
      const handle = await open(await ctx.resultFilePath(workFile(ctx.step, what)), 'a');
      await handle.truncate(bytes[i]); // back to the checkpoint: what came after it is done again
      return handle;
    }),
  );
  const out: [unknown[][], unknown[][], string[]] = [[], [], []];
  let row = at.row;
  let offset = at.offset;
  const flush = async () => {
    const texts = [csvLines(out[0]), csvLines(out[1]), out[2].join('')];
    out[0] = [];
    out[1] = [];
    out[2] = [];
    for (let i = 0; i < 3; i++) {
      if (!texts[i]) continue;
      await handles[i]!.write(texts[i]!);
      bytes[i] += Buffer.byteLength(texts[i]!);
    }
    const checkpoint: ChunkCheckpoint = { row, offset, bytes: [...bytes], stats: { ...stats } };
    const planned = Math.min(endRow, startRow + config.rows_per_step) - startRow;
    // The job's message while the step runs (recorded as JobStepProgress, at most once a second).
    const message = `matching rows ${startRow + 1}-${startRow + planned} of file1: ${row - startRow} done, ${stats.matched} matched in this chunk`;
    ctx.progress(Math.min(1, (row - startRow) / planned), { message, checkpoint });
  };

  const seen = new Uint32Array(side2.rows.length);
  let stamp = 0;
  const cells = new Array<string>(config.mappings.length);
  const keyCells = new Array<string>(keyColumns1.length);
  const prepared1 = new Array<unknown>(config.mappings.length);
  let sliceStart = Date.now();
  try {
    if (row < endRow) {
      for await (const { record, end } of readRecords(file1, config.delimiter, offset)) {
        for (let m = 0; m < columns1.length; m++) {
          cells[m] = record[columns1[m]!] ?? '';
          prepared1[m] = scorers[m]!.prepare(cells[m]!);
        }
        for (let k = 0; k < keyColumns1.length; k++) keyCells[k] = record[keyColumns1[k]!] ?? '';
        if (++stamp === 0xffffffff) {
          seen.fill(0);
          stamp = 1;
        }
        const candidates = side2.index.candidates(keyCells, seen, stamp);
        stats.comparisons += candidates.length;
        let best = -1;
        let bestScore = -1;
        for (const candidate of candidates) {
          let sum = 0;
          let rest = totalWeight;
          let pruned = false;
          for (const m of order) {
            rest -= weights[m]!;
            sum += weights[m]! * scorers[m]!.score(prepared1[m], side2.prepared[m]![candidate]);
            const reachable = (sum + 100 * rest) / totalWeight + 1e-9;
            if (reachable < config.threshold || reachable <= bestScore) {
              pruned = true;
              break;
            }
          }
          if (pruned) continue;
          const score = sum / totalWeight;
          if (score > bestScore) {
            bestScore = score;
            best = candidate;
          }
        }
        const rowNumber = row + 1;
        if (best >= 0 && bestScore >= config.threshold - 1e-9) {
          const row2 = side2.rows[best]!;
          const scores = config.mappings.map((_, m) => round2(scorers[m]!.score(prepared1[m], side2.prepared[m]![best])));
          out[0].push([
            rowNumber,
            best + 1,
            round2(bestScore),
            ...scores,
            ...layout.idx1.map((i) => record[i] ?? ''),
            ...layout.idx2.map((i) => row2[i] ?? ''),
          ]);
          out[2].push(`${best}\n`);
          stats.matched++;
        } else if (config.generate_unmatched) {
          out[1].push([rowNumber, ...layout.idx1.map((i) => record[i] ?? '')]);
        }
        stats.rows++;
        row++;
        offset = end;
        if (row >= endRow) break;
        // Hand the event loop back now and then (heartbeats, other activities, the API in this process).
        if ((stats.rows & 0xff) === 0 && Date.now() - sliceStart >= matchTuning.sliceMs) {
          await flush();
          await new Promise((resolve) => setImmediate(resolve));
          if (ctx.signal.aborted) throw new Error('step interrupted');
          sliceStart = Date.now();
        }
      }
    }
    await flush();
    await Promise.all(handles.map((h) => h.sync()));
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  const chunkStats: ChunkStats = { ...stats, endOffset: offset, endRow: row };
  await writeFile(await ctx.resultFilePath(workFile(ctx.step, 'stats')), JSON.stringify(chunkStats));
  return { result: { step: ctx.step, rows: stats.rows, matched: stats.matched } };
}

const SUMMARY = '.match-summary.json';

/** The last step: the chunks' working files joined into the result files, the unmatched rows of file2. */
async function runJoin(ctx: MatchContext, config: MatchConfig, files: MatchFiles, chunks: number): Promise<StepOutput> {
  const names = config.generate_unmatched
    ? [RESULT_FILES.matches, RESULT_FILES.unmatched1, RESULT_FILES.unmatched2]
    : [RESULT_FILES.matches];
  const summaryPath = await ctx.resultFilePath(SUMMARY);
  const allStats: ChunkStats[] = [];
  for (let step = 0; step < chunks; step++) {
    const stats = await readStats(ctx, step);
    if (!stats) {
      // Done before (the working files are gone once the results are in place): the same answer again.
      const done = await readFile(summaryPath, 'utf8').catch(() => undefined);
      if (done) return { resultFiles: names, result: JSON.parse(done) as MatchSummary };
      throw new PermanentJobError(`the working files of step ${step} are missing; retry the job`);
    }
    allStats.push(stats);
  }
  const side2 = await loadSide2(config, files, () => ctx.progress(0));
  const { header: header1 } = await header1Of(files.resolve(config.file1).path, config.delimiter);
  const layout = outputLayout(config, header1, side2.header);

  const partsOf = async (what: 'matches' | 'unmatched1' | 'matched2') =>
    Promise.all(Array.from({ length: chunks }, (_, step) => ctx.resultFilePath(workFile(step, what))));
  const joinInto = async (name: string, header: string[], parts: string[]) => {
    const target = await ctx.resultFilePath(name);
    const temp = `${target}.tmp`;
    const sink = await open(temp, 'w');
    try {
      await sink.write(csvLines([header]));
      for (const part of parts) {
        if (ctx.signal.aborted) throw new Error('step interrupted');
        for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) await sink.write(chunk as Buffer);
        ctx.progress(0);
      }
      await sink.sync();
    } finally {
      await sink.close();
    }
    return { target, temp };
  };

  const renames = [await joinInto(RESULT_FILES.matches, layout.matchesHeader, await partsOf('matches'))];
  let unmatched2 = 0;
  if (config.generate_unmatched) {
    renames.push(await joinInto(RESULT_FILES.unmatched1, layout.unmatched1Header, await partsOf('unmatched1')));
    const matched2 = new Uint8Array(side2.rows.length);
    for (const part of await partsOf('matched2')) {
      const text = await readFile(part, 'utf8');
      for (let i = 0, j = text.indexOf('\n'); j !== -1; i = j + 1, j = text.indexOf('\n', i))
        matched2[Number(text.slice(i, j))] = 1;
    }
    const target = await ctx.resultFilePath(RESULT_FILES.unmatched2);
    const temp = `${target}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.write(csvLines([layout.unmatched2Header]));
      let batch: unknown[][] = [];
      for (let row = 0; row < side2.rows.length; row++) {
        if (matched2[row]) continue;
        unmatched2++;
        batch.push([row + 1, ...layout.idx2.map((i) => side2.rows[row]![i] ?? '')]);
        if (batch.length === 5000) {
          await handle.write(csvLines(batch));
          batch = [];
          ctx.progress(row / side2.rows.length);
          if (ctx.signal.aborted) throw new Error('step interrupted');
        }
      }
      await handle.write(csvLines(batch));
      await handle.sync();
    } finally {
      await handle.close();
    }
    renames.push({ target, temp });
  }

  const rows1 = allStats.reduce((n, s) => n + s.rows, 0);
  const matched = allStats.reduce((n, s) => n + s.matched, 0);
  const comparisons = allStats.reduce((n, s) => n + s.comparisons, 0);
  const rows2 = side2.rows.length;
  const summary: MatchSummary = {
    rows_file1: rows1,
    rows_file2: rows2,
    matched,
    unmatched_file1: config.generate_unmatched ? rows1 - matched : null,
    unmatched_file2: config.generate_unmatched ? unmatched2 : null,
    comparisons,
    comparison_ratio: rows1 * rows2 ? comparisons / (rows1 * rows2) : 0,
    blocks: side2.index.blocks,
    oversized_blocks: side2.index.oversizedBlocks.reduce((a, b) => a + b, 0),
    threshold: config.threshold,
    message: `matched ${matched.toLocaleString('en-US')} of ${rows1.toLocaleString('en-US')} rows`,
  };
  // The summary first, then the results in place, then the working files go: a rerun of this step
  // after any of these finds either all working files or the summary.
  await writeFile(summaryPath, JSON.stringify(summary));
  for (const { target, temp } of renames) await rename(temp, target);
  for (let step = 0; step < chunks; step++)
    for (const what of ['stats', 'matches', 'unmatched1', 'matched2'] as const)
      await rm(await ctx.resultFilePath(workFile(step, what)), { force: true });
  // file2 is not needed by this job any more: free it (another job's steps load theirs).
  cachedSide2 = undefined;
  return { resultFiles: names, result: summary };
}
