// Aggregation and files: reductions that skip undefined values and say how many they skipped, a per-case CSV and a
// summary JSON. Nothing is dropped silently: every statistic carries the count of values it used and the counts of
// null (undefined under the convention), NaN and infinite values it left out, plus the empty and failed records.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MetricRecord } from './evaluate.ts';

export const METRIC_KEYS = ['dice', 'iou', 'hd', 'hd95', 'assd', 'nsd', 'precision', 'recall'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** A closed set of reductions; each skips null, NaN and ±inf and reports the count of values used. */
export const REDUCTIONS = ['mean', 'std', 'median', 'min', 'max'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

const finiteOf = (values: readonly (number | null)[]): number[] => values.filter((v): v is number => v !== null && Number.isFinite(v));

/**
 * Reduces the finite values; value is null when there are none. std is the population standard deviation (ddof 0,
 * numpy.std's default); median averages the two middle values for an even count (numpy.median).
 */
export function reduce(values: readonly (number | null)[], reduction: Reduction): { value: number | null; count: number } {
  const v = finiteOf(values);
  const count = v.length;
  if (count === 0) return { value: null, count };
  const mean = v.reduce((a, b) => a + b, 0) / count;
  switch (reduction) {
    case 'mean': return { value: mean, count };
    case 'std': return { value: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / count), count };
    case 'median': {
      const s = [...v].sort((a, b) => a - b);
      const mid = count >> 1;
      return { value: count % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, count };
    }
    case 'min': return { value: Math.min(...v), count };
    case 'max': return { value: Math.max(...v), count };
    default: throw new TypeError(`Expected one of ${REDUCTIONS.join(', ')} for reduction but received ${String(reduction)}`);
  }
}

export interface MetricSummary {
  mean: number | null;
  std: number | null;
  median: number | null;
  /** Finite values the statistics use. */
  count: number;
  /** Values left out: null (undefined, e.g. a distance with one mask empty), NaN, ±inf. */
  nNull: number;
  nNaN: number;
  nInf: number;
}

export function summarizeValues(values: readonly (number | null)[]): MetricSummary {
  return {
    mean: reduce(values, 'mean').value,
    std: reduce(values, 'std').value,
    median: reduce(values, 'median').value,
    count: finiteOf(values).length,
    nNull: values.filter((v) => v === null).length,
    nNaN: values.filter((v) => v !== null && Number.isNaN(v)).length,
    nInf: values.filter((v) => v !== null && (v === Infinity || v === -Infinity)).length,
  };
}

export interface GroupSummary {
  records: number;
  /** Records where both masks were empty (scored by the convention's both-empty rule). */
  bothEmpty: number;
  predEmpty: number;
  gtEmpty: number;
  /** Records with exactly one mask empty (predEmpty + gtEmpty). */
  failed: number;
  metrics: Record<MetricKey, MetricSummary>;
}

export interface Summary {
  conventions: string[];
  tolerances: number[];
  cases: number;
  /** Every record pooled (all labels). */
  overall: GroupSummary;
  /** Per label, keyed by the label as a string. */
  perLabel: Record<string, GroupSummary>;
  /** How to read the numbers. */
  note: string;
}

function group(records: readonly MetricRecord[]): GroupSummary {
  const metrics = Object.fromEntries(METRIC_KEYS.map((k) => [k, summarizeValues(records.map((r) => r[k]))])) as Record<MetricKey, MetricSummary>;
  const count = (e: MetricRecord['emptyRule']) => records.filter((r) => r.emptyRule === e).length;
  return {
    records: records.length,
    bothEmpty: count('both-empty'),
    predEmpty: count('pred-empty'),
    gtEmpty: count('gt-empty'),
    failed: records.filter((r) => r.failed).length,
    metrics,
  };
}

/** Summary statistics over records (of one or many cases), overall and per label. */
export function summarize(records: readonly MetricRecord[]): Summary {
  const labels = [...new Set(records.map((r) => r.label))].sort((a, b) => a - b);
  return {
    conventions: [...new Set(records.map((r) => r.convention))],
    tolerances: [...new Set(records.map((r) => r.tolerance))],
    cases: new Set(records.map((r) => r.case)).size,
    overall: group(records),
    perLabel: Object.fromEntries(labels.map((l) => [String(l), group(records.filter((r) => r.label === l))])),
    note: 'mean/std (population)/median use finite values only; count says how many, nNull/nNaN/nInf how many were left out. '
      + 'failed = exactly one mask empty (distance metrics undefined); bothEmpty records are scored by the convention\'s rule.',
  };
}

const CSV_COLUMNS = ['case', 'label', ...METRIC_KEYS, 'emptyRule', 'failed', 'shape', 'spacing', 'convention', 'tolerance'] as const;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
  if (Array.isArray(v)) return v.join('x');
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Per-record CSV text: one row per (case, label), columns case, label, the eight metrics, emptyRule, failed,
 * shape and spacing ('x'-joined, axis order of the mask), convention, tolerance. null → empty cell, NaN → nan,
 * ±Infinity → inf/-inf (pandas.read_csv reads all three), numbers at full precision.
 */
export function recordsToCsv(records: readonly MetricRecord[]): string {
  const rows = records.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

export function writeRecordsCsv(path: string, records: readonly MetricRecord[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, recordsToCsv(records));
}

/** JSON text of a summary; non-finite numbers (never present in the statistics) would become null. */
export function summaryToJson(summary: Summary): string {
  return JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

export function writeSummaryJson(path: string, summary: Summary): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, summaryToJson(summary));
}
