/**
 * The match job on two synthetic CSV files (people with typos, accents, changed e-mails), run as its
 * steps directly (no Temporal) and, with BENCH_ENGINE=1, also through the API on a dev server (upload,
 * submit, wait, download). Prints rows/s, peak RSS, comparisons made against n², the quality of the
 * matches against the generator's truth, a table and a BENCH_JSON line.
 *
 *   BENCH_ROWS1, BENCH_ROWS2   rows of file1 and file2 (default 100000 each)
 *   BENCH_ROWS_PER_STEP        rows of file1 per step (default 10000)
 *   BENCH_DUPLICATES           share of file1 rows taken from file2 with typos (default 0.7)
 *   BENCH_ENGINE=1             also run it as a job through the engine (a dev server is started)
 */
import os from 'node:os';
import path from 'node:path';
import { createReadStream, createWriteStream, mkdtempSync, openAsBlob, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { Readable } from 'node:stream';
import { FileStore } from '../src/files/fileStore.js';
import { createMatchJobType } from '../src/jobs/match/matchJobType.js';
import { JobTypeRegistry } from '../src/jobs/registry.js';
import type { MatchSummary } from '../src/jobs/match/matcher.js';
import { blockNames, DEFAULT_BLOCKING_KEYS } from '../src/jobs/match/blocking.js';
import type { StepContext } from '../src/jobs/jobType.js';

const rows1 = Number(process.env.BENCH_ROWS1 ?? 100_000);
const rows2 = Number(process.env.BENCH_ROWS2 ?? 100_000);
const rowsPerStep = Number(process.env.BENCH_ROWS_PER_STEP ?? 10_000);
const duplicates = Number(process.env.BENCH_DUPLICATES ?? 0.7);
const throughEngine = process.env.BENCH_ENGINE === '1';
const log = (line: string) => process.stderr.write(`${line}\n`);

let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const sampler = setInterval(sampleRss, 100);

// ---- synthetic people ------------------------------------------------------------------------------------

let seed = 12345;
const rng = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(items: readonly T[]) => items[Math.floor(rng() * items.length)]!;
const onset = [
  'b',
  'c',
  'd',
  'f',
  'g',
  'h',
  'j',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'w',
  'z',
  'ch',
  'sh',
  'br',
  'st',
  'tr',
];
const vowel = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou', 'ä', 'é', 'ö'];
const coda = ['', '', '', 'n', 'r', 's', 'l', 'm', 'rt', 'nd', 'ck'];
const capital = (w: string) => w[0]!.toUpperCase() + w.slice(1);
const word = (syllables: number) =>
  capital(Array.from({ length: syllables }, () => pick(onset) + pick(vowel) + pick(coda)).join(''));
const firstNames = Array.from({ length: 3000 }, () => word(1 + Math.floor(rng() * 2)));
const lastNames = Array.from({ length: 20000 }, () => word(2 + Math.floor(rng() * 2)));
const cities = Array.from(
  { length: 500 },
  () => word(2 + Math.floor(rng() * 2)) + (rng() < 0.2 ? ` ${pick(['Nord', 'Süd', 'am See'])}` : ''),
);
const ascii = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();

/** One typo: a letter dropped, doubled, swapped with the next, or replaced. */
function typo(s: string): string {
  const i = 1 + Math.floor(rng() * Math.max(1, s.length - 2));
  switch (Math.floor(rng() * 4)) {
    case 0:
      return s.slice(0, i) + s.slice(i + 1);
    case 1:
      return s.slice(0, i) + s[i] + s.slice(i);
    case 2:
      return s.slice(0, i) + (s[i + 1] ?? '') + s[i] + s.slice(i + 2);
    default:
      return s.slice(0, i) + pick('abcdefghiklmnoprstuvwz'.split('')) + s.slice(i + 1);
  }
}

async function writeCsv(file: string, header: string[], rows: (i: number) => string[], count: number) {
  const out = createWriteStream(file);
  out.write(stringify([header]));
  for (let start = 0; start < count; start += 5000) {
    const batch: string[][] = [];
    for (let i = start; i < Math.min(count, start + 5000); i++) batch.push(rows(i));
    if (!out.write(stringify(batch))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-match-'));
const file1Path = path.join(dir, 'customers.csv');
const file2Path = path.join(dir, 'crm.csv');
const people = Array.from({ length: rows2 }, (_, i) => {
  const first = pick(firstNames);
  const last = pick(lastNames);
  return {
    id: `C${String(i + 1).padStart(7, '0')}`,
    first,
    last,
    email: `${ascii(first)}.${ascii(last)}${i % 100}@example.com`,
    city: pick(cities),
  };
});
const generated = Date.now();
await writeCsv(
  file2Path,
  ['customer_id', 'full_name', 'email_address', 'town'],
  (i) => {
    const p = people[i]!;
    return [p.id, `${p.first} ${p.last}`, p.email, p.city];
  },
  rows2,
);
// file1: a share of file2's people again, with typos (in a third of the names two), accents dropped or
// upper case, some e-mails changed; the rest new people. `truth` is the customer_id it came from.
await writeCsv(
  file1Path,
  ['ref', 'name', 'email', 'city', 'truth'],
  (i) => {
    if (rng() < duplicates) {
      const p = pick(people);
      let name = `${p.first} ${p.last}`;
      const r = rng();
      if (r < 0.35) name = typo(name);
      else if (r < 0.55) name = typo(typo(name));
      else if (r < 0.7) name = ascii(name).toUpperCase();
      const email = rng() < 0.25 ? `${ascii(p.first)}${Math.floor(rng() * 1000)}@mail.example` : p.email;
      return [`R${i + 1}`, name, email, rng() < 0.1 ? typo(p.city) : p.city, p.id];
    }
    const first = pick(firstNames);
    const last = pick(lastNames);
    return [`R${i + 1}`, `${first} ${last}`, `${ascii(first)}.${ascii(last)}@other.example`, pick(cities), ''];
  },
  rows1,
);
log(
  `generated ${rows1.toLocaleString('en-US')} + ${rows2.toLocaleString('en-US')} rows (${(statSync(file1Path).size / 1048576).toFixed(1)} + ${(statSync(file2Path).size / 1048576).toFixed(1)} MB) in ${((Date.now() - generated) / 1000).toFixed(1)} s`,
);

const config = {
  mappings: [
    { file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', use_normalization: true, weight: 3 },
    { file1_col: 'email', file2_col: 'email_address', match_type: 'exact', use_normalization: true, weight: 1 },
    { file1_col: 'city', file2_col: 'town', match_type: 'token_set', use_normalization: true, weight: 1 },
  ],
  output_cols1: ['ref', 'name', 'truth'],
  output_cols2: ['customer_id', 'full_name'],
  threshold: 75,
  generate_unmatched: true,
  rows_per_step: rowsPerStep,
};

const truthRows = (parse(readFileSync(file1Path), { columns: true }) as Record<string, string>[]).filter((r) => r.truth);
const truthCount = truthRows.length;
// Blocking recall: the true pairs that share a block under the default keys (no threshold can find more).
const fullNameOf = new Map(people.map((p) => [p.id, `${p.first} ${p.last}`]));
const blockingRecall =
  truthRows.filter((r) =>
    DEFAULT_BLOCKING_KEYS.some((key) => {
      const other = new Set(blockNames(fullNameOf.get(r.truth!)!, key));
      return blockNames(r.name!, key).some((name) => other.has(name));
    }),
  ).length / truthCount;
log(
  `true pairs: ${truthCount.toLocaleString('en-US')}; sharing a block (blocking recall): ${(blockingRecall * 100).toFixed(2)}%`,
);

/** Precision and recall of matches.csv against the truth column. */
function quality(matchesCsv: string) {
  const rows = parse(readFileSync(matchesCsv), { columns: true }) as Record<string, string>[];
  const correct = rows.filter((r) => r.truth && r.truth === r.customer_id).length;
  return { precision: rows.length ? correct / rows.length : 0, recall: truthCount ? correct / truthCount : 0 };
}

const results: Record<string, unknown>[] = [];

// ---- 1. the steps, run directly -----------------------------------------------------------------------

{
  const files = new FileStore(path.join(dir, 'files'));
  const registry = new JobTypeRegistry().register(createMatchJobType({ files }));
  const f1 = await files.put('bench', 'customers.csv', createReadStream(file1Path));
  const f2 = await files.put('bench', 'crm.csv', createReadStream(file2Path));
  const { input, plan } = registry.prepare('match', { ...config, file1: f1.id, file2: f2.id }, { owner: 'bench' });
  const resultsDir = mkdtempSync(path.join(dir, 'results-'));
  peakRss = 0;
  const started = performance.now();
  let summary: MatchSummary | undefined;
  let rowsDone = 0;
  for (let step = 0; step < plan.totalSteps; step++) {
    const stepStarted = performance.now();
    const ctx: StepContext = {
      jobId: 'bench',
      step,
      totalSteps: plan.totalSteps,
      attempt: 1,
      checkpoint: undefined,
      signal: new AbortController().signal,
      progress: () => {},
      sleep: async () => {},
      writeResultFile: async () => '',
      resultFilePath: async (name) => path.join(resultsDir, path.basename(name)),
    };
    const output = await registry.get('match').runStep(ctx, input);
    const result = output?.result as any;
    if (step < plan.totalSteps - 1) {
      rowsDone += result.rows;
      const elapsed = (performance.now() - started) / 1000;
      log(
        `step ${step + 1}/${plan.totalSteps}: matched ${result.matched.toLocaleString('en-US')} of ${result.rows.toLocaleString('en-US')} rows in ${((performance.now() - stepStarted) / 1000).toFixed(2)} s; ` +
          `${rowsDone.toLocaleString('en-US')} of ${rows1.toLocaleString('en-US')} rows, ${Math.round(rowsDone / elapsed)} rows/s, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
      );
    } else summary = result as MatchSummary;
  }
  const seconds = (performance.now() - started) / 1000;
  sampleRss();
  const q = quality(path.join(resultsDir, 'matches.csv'));
  log(`steps done: ${summary!.message} in ${seconds.toFixed(1)} s`);
  results.push({
    name: 'steps run directly',
    rows1,
    rows2,
    steps: plan.totalSteps,
    seconds,
    rowsPerSec: rows1 / seconds,
    matched: summary!.matched,
    comparisons: summary!.comparisons,
    nSquared: rows1 * rows2,
    comparisonRatio: summary!.comparison_ratio,
    comparisonsPerSec: summary!.comparisons / seconds,
    blocks: summary!.blocks,
    precision: q.precision,
    recall: q.recall,
    peakRssMb: peakRss / 1048576,
  });
  files.close();
}

// ---- 2. optionally, as a job through the engine -------------------------------------------------------

if (throughEngine) {
  const { startDevServer } = await import('../src/temporal/devServer.js');
  const { startEngine } = await import('../src/engine.js');
  const { installRuntime } = await import('../src/worker/engineWorkers.js');
  installRuntime();
  const server = await startDevServer({ headless: true, log });
  const engineDir = mkdtempSync(path.join(dir, 'engine-'));
  const engine = await startEngine({
    temporalAddress: server.address,
    taskQueue: `bench-match-${randomUUID()}`,
    eventStorePath: path.join(engineDir, 'events.db'),
    readModelPath: path.join(engineDir, 'readmodel.db'),
    resultsDir: path.join(engineDir, 'results'),
  });
  try {
    peakRss = 0;
    const started = performance.now();
    const upload = async (file: string, name: string) => {
      const form = new FormData();
      form.append('file', await openAsBlob(file, { type: 'text/csv' }), name);
      const response = await engine.app.request('/api/v1/files', { method: 'POST', body: form });
      if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { file_id: string }).file_id;
    };
    const file1 = await upload(file1Path, 'customers.csv');
    const file2 = await upload(file2Path, 'crm.csv');
    const uploadSeconds = (performance.now() - started) / 1000;
    const submitted = await engine.app.request('/api/v1/jobs/submit', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Customer Data Matching - bench', config: { ...config, file1, file2 }, priority: 2 }),
    });
    const { job_id: jobId } = (await submitted.json()) as { job_id: string };
    if (submitted.status !== 201) throw new Error(`submit: ${submitted.status} ${jobId}`);
    const jobStarted = performance.now();
    let job: any;
    let lastLog = 0;
    for (;;) {
      job = await (await engine.app.request(`/api/v1/jobs/${jobId}`)).json();
      if (performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        log(
          `engine: ${job.status} ${job.progress}% (step ${job.completed_steps}/${job.total_steps}) rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
        );
      }
      if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (job.status !== 'completed') throw new Error(`job ${job.status}: ${job.error_message}`);
    const jobSeconds = (performance.now() - jobStarted) / 1000;
    // Where the job's time went, from its Temporal history: waiting for a step to start, running steps.
    const history = await engine.client.workflow.getHandle(jobId).fetchHistory();
    const at = (e: any) => Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6);
    const scheduled = new Map<number, number>();
    const startedAt = new Map<number, number>();
    let waitMs = 0;
    let stepMs = 0;
    const stepSeconds: number[] = [];
    for (const e of history.events ?? []) {
      const id = Number(e.eventId);
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'runJobStep') scheduled.set(id, at(e));
      const s0 = e.activityTaskStartedEventAttributes;
      if (s0 && scheduled.has(Number(s0.scheduledEventId))) {
        waitMs += at(e) - scheduled.get(Number(s0.scheduledEventId))!;
        startedAt.set(Number(s0.scheduledEventId), at(e));
      }
      const c = e.activityTaskCompletedEventAttributes;
      if (c && startedAt.has(Number(c.scheduledEventId))) {
        const ms = at(e) - startedAt.get(Number(c.scheduledEventId))!;
        stepMs += ms;
        stepSeconds.push(Math.round(ms / 100) / 10);
      }
    }
    log(
      `engine: steps ran ${(stepMs / 1000).toFixed(1)} s (${stepSeconds.join(', ')} s), waited ${(waitMs / 1000).toFixed(1)} s to start`,
    );
    const download = await engine.app.request(`/api/v1/jobs/${jobId}/files/matches.csv`);
    const matchesFile = path.join(dir, 'engine-matches.csv');
    const sink = createWriteStream(matchesFile);
    Readable.fromWeb(download.body as any).pipe(sink);
    await once(sink, 'finish');
    sampleRss();
    const q = quality(matchesFile);
    results.push({
      name: 'job through the engine',
      rows1,
      rows2,
      steps: job.total_steps,
      seconds: jobSeconds,
      uploadSeconds,
      stepSeconds: stepMs / 1000,
      rowsPerSec: rows1 / jobSeconds,
      matched: job.result.matched,
      comparisons: job.result.comparisons,
      nSquared: rows1 * rows2,
      comparisonRatio: job.result.comparison_ratio,
      comparisonsPerSec: job.result.comparisons / jobSeconds,
      blocks: job.result.blocks,
      precision: q.precision,
      recall: q.recall,
      peakRssMb: peakRss / 1048576,
    });
  } finally {
    await engine.stop();
    await server.stop();
  }
}

clearInterval(sampler);
rmSync(dir, { recursive: true, force: true });

console.log(
  '\nscenario                     rows1 × rows2         s   rows/s  comparisons   of n²      cmp/s    matched  precision  recall  peak RSS MB',
);
for (const r of results as any[]) {
  console.log(
    `${String(r.name).padEnd(24)} ${`${r.rows1} × ${r.rows2}`.padStart(17)} ${r.seconds.toFixed(1).padStart(7)} ${Math.round(r.rowsPerSec).toString().padStart(8)} ` +
      `${r.comparisons.toLocaleString('en-US').padStart(12)} ${(r.comparisonRatio * 100).toFixed(3).padStart(6)}% ${Math.round(r.comparisonsPerSec).toLocaleString('en-US').padStart(10)} ` +
      `${r.matched.toLocaleString('en-US').padStart(10)} ${r.precision.toFixed(4).padStart(10)} ${r.recall.toFixed(4).padStart(7)} ${r.peakRssMb.toFixed(0).padStart(12)}`,
  );
}
console.log(
  `BENCH_JSON ${JSON.stringify({ bench: 'match', cpus: os.cpus().length, node: process.version, rowsPerStep, duplicates, truePairs: truthCount, blockingRecall, results })}`,
);
