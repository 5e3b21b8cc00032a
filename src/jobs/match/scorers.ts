/**
 * How two values of a column pair are compared: normalization, and one scorer per match type. Every
 * scorer gives 0–100. Values are prepared once per row (normalized, tokenized, encoded) so a comparison
 * only does the comparing. String distance is fastest-levenshtein's, phonetic codes double-metaphone's.
 */
import { distance } from 'fastest-levenshtein';
import { doubleMetaphone } from 'double-metaphone';

export const MATCH_TYPES = ['exact', 'fuzzy', 'token_sort', 'token_set', 'phonetic', 'numeric'] as const;
export type MatchType = (typeof MATCH_TYPES)[number];

const MARKS = /\p{M}+/gu;
const APOSTROPHES = /['’‘`´]/gu;
const PUNCTUATION = /[\p{P}\p{S}]+/gu;
const SPACES = /\s+/gu;

/**
 * `use_normalization`: compatibility decomposition (NFKD) with the combining marks dropped (é → e,
 * ﬁ → fi, full-width → ASCII), lower case, apostrophes removed (O'Brien → obrien), every other run of
 * punctuation or symbols a space (Jean-Luc → jean luc), runs of white space one space, trimmed.
 */
export function normalize(value: string): string {
  return value
    .normalize('NFKD')
    .replace(MARKS, '')
    .toLowerCase()
    .replace(APOSTROPHES, '')
    .replace(PUNCTUATION, ' ')
    .replace(SPACES, ' ')
    .trim();
}

/** Words of a value: split on white space, empty pieces dropped. */
export function tokens(value: string): string[] {
  return value.split(SPACES).filter(Boolean);
}

/** Levenshtein similarity, 0–100: 100 × (1 − edits / length of the longer). An empty value scores 0. */
export function similarity(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0;
  if (a === b) return 100;
  return 100 * (1 - distance(a, b) / Math.max(a.length, b.length));
}

/**
 * A number out of a cell: everything but digits, sign, decimal point and exponent is dropped first,
 * so `$1,234.50` reads 1234.5 and `12 %` reads 12. NaN when nothing numeric is left.
 */
export function parseNumber(value: string): number {
  const cleaned = value.replace(/[^0-9.eE+-]/g, '');
  if (!/[0-9]/.test(cleaned)) return NaN;
  const n = Number(cleaned);
  return Number.isFinite(n) ? n : NaN;
}

/** 100 × (1 − |a − b| / max(|a|, |b|)), at least 0; both 0 → 100; unreadable → 0. */
export function numericScore(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return 0;
  if (a === b) return 100;
  return 100 * Math.max(0, 1 - Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
}

/**
 * TheFuzz's token_set_ratio on prepared values (sorted distinct tokens): the common tokens `t0`, and
 * `t0` + each side's rest (`t1`, `t2`); the best similarity of (t0, t1), (t0, t2), (t1, t2). A value
 * whose tokens are all in the other scores 100.
 */
export function tokenSetScore(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const inB = new Set(b);
  const common: string[] = [];
  const onlyA: string[] = [];
  for (const t of a) (inB.has(t) ? common : onlyA).push(t);
  const inA = new Set(a);
  const onlyB = b.filter((t) => !inA.has(t));
  const t0 = common.join(' ');
  const t1 = onlyA.length ? (t0 ? `${t0} ${onlyA.join(' ')}` : onlyA.join(' ')) : t0;
  const t2 = onlyB.length ? (t0 ? `${t0} ${onlyB.join(' ')}` : onlyB.join(' ')) : t0;
  return Math.max(similarity(t0, t1), similarity(t0, t2), similarity(t1, t2));
}

/** Double Metaphone codes of each token, joined: primary and alternate (blocking keys). */
export function phoneticCodes(words: readonly string[]): { primary: string; alternate: string } {
  const primary: string[] = [];
  const alternate: string[] = [];
  for (const word of words) {
    const [p, a] = doubleMetaphone(word);
    if (p) primary.push(p);
    if (a || p) alternate.push(a || p);
  }
  return { primary: primary.join(' '), alternate: alternate.join(' ') };
}

/** Each word's Double Metaphone codes (primary, and alternate when it differs); words without a code dropped. */
export function wordCodes(words: readonly string[]): string[][] {
  const out: string[][] = [];
  for (const word of words) {
    const [p, a] = doubleMetaphone(word);
    if (p) out.push(a && a !== p ? [p, a] : [p]);
    else if (a) out.push([a]);
  }
  return out;
}

/**
 * Phonetic score of two values as words' codes: two words score the best similarity between their
 * codes (100 when they share one); each word of the shorter value takes its best unused word of the
 * other, and the sum is divided by the word count of the longer. So "Catherine Schmidt" and
 * "Katherine Smith" score 100, "John Smith" and "John Doe" about 50.
 */
export function phoneticScore(a: readonly string[][], b: readonly string[][]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  const used = new Uint8Array(long.length);
  let sum = 0;
  for (const codes of short) {
    let best = 0;
    let bestAt = -1;
    for (let j = 0; j < long.length; j++) {
      if (used[j]) continue;
      let s = 0;
      for (const x of codes) for (const y of long[j]!) s = Math.max(s, x === y ? 100 : similarity(x, y));
      if (s > best) {
        best = s;
        bestAt = j;
        if (s === 100) break;
      }
    }
    if (bestAt >= 0) used[bestAt] = 1;
    sum += best;
  }
  return sum / long.length;
}

/** A column's scorer: `prepare` runs once per cell, `score` once per candidate pair. */
export interface Scorer<P = unknown> {
  prepare(raw: string): P;
  score(a: P, b: P): number;
}

const text = (useNormalization: boolean) => (raw: string) => (useNormalization ? normalize(raw) : raw);

/** The scorer of a match type; `useNormalization` applies normalize() to the text before anything else
 * (numeric values have their own cleanup and ignore it). */
export function scorerFor(matchType: MatchType, useNormalization: boolean): Scorer<any> {
  const clean = text(useNormalization);
  switch (matchType) {
    case 'exact':
      return { prepare: clean, score: (a: string, b: string) => (a.length > 0 && a === b ? 100 : 0) } satisfies Scorer<string>;
    case 'fuzzy':
      return { prepare: clean, score: similarity } satisfies Scorer<string>;
    case 'token_sort':
      return {
        prepare: (raw) => tokens(clean(raw)).sort().join(' '),
        score: similarity,
      } satisfies Scorer<string>;
    case 'token_set':
      return {
        prepare: (raw) => [...new Set(tokens(clean(raw)))].sort(),
        score: tokenSetScore,
      } satisfies Scorer<string[]>;
    case 'phonetic':
      // Double Metaphone reads letters; without normalization accents and punctuation stay in its way.
      return { prepare: (raw) => wordCodes(tokens(clean(raw))), score: phoneticScore } satisfies Scorer<string[][]>;
    case 'numeric':
      return { prepare: parseNumber, score: numericScore } satisfies Scorer<number>;
  }
}
