// samtutor evaluate: scores a folder of predicted masks against ground truth, case by case and per label.
//
// Rules (also printed into the summary JSON's `evaluation` block):
// - Ground truth: a dataset folder (imagesTr/ [+ labelsTr/], or images/ + masks/) is read with discoverDataset and
//   its masks decoded with the dataset's encoding (loadSample: JPEG-noisy masks thresholded, multi-part masks
//   merged); a folder with labelsTr/ or masks/ but no images is that sub-folder; anything else is a plain folder
//   in which every image/volume file is one ground-truth mask (2D: 'auto' encoding, volumes: label indices).
// - Predictions: every image/volume file of --pred except `<stem>_overlay`/`_prob*` files (what `samtutor predict`
//   writes beside its masks). PNG/JPEG masks decode with 'auto' (0/1 or 0/255 binary, else label indices),
//   NIfTI masks as label indices.
// - Pairing by stem (src/data/stems.ts): a prediction pairs with the ground-truth case whose stem (dataset: case
//   id) is its own, or its own minus a mask suffix ('_mask', '_seg', ...) or nnU-Net channel suffix '_0000';
//   then, the other way round, ground-truth files named `<pred-stem><mask suffix>` (several parts are merged).
//   A prediction with no ground truth is an error (exit 2). Ground-truth cases with no prediction are "missing":
//   they are NOT scored (as in nnU-Net's folder evaluation, so a held-out subset can be scored against a whole
//   dataset), but their count and ids are printed and stored under `missing` in the JSON.
// - Spacing: --spacing x,y[,z] is in x-first (ITK/SimpleITK) order and is reversed to the tensor axis order
//   ([sy, sx] / [sz, sy, sx]) that the metrics use; one value means isotropic. Otherwise volumes use the
//   ground-truth (dataset: image) NIfTI header spacing, and 2D images spacing 1.
// - Output: the summary JSON at --out and the per-case CSV beside it (<out-stem>.csv), each written to a temporary
//   file and renamed, so a reader never sees half a file.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { type Tensor, tidy, dispose } from '../engine/index.ts';
import {
  DataError, DEFAULT_MASK_SUFFIXES, decodeMask, discoverDataset, loadSample, disposeSample, pairByStem, readImage,
  readImageInfo, readNifti, readNiftiInfo, rawToTensor, type DatasetIndex, type SampleRecord,
} from '../data/index.ts';
import { IMAGE_DIRS, MASK_DIRS, listDataFiles } from '../data/folders.ts';
import type { FileEntry } from '../data/stems.ts';
import {
  CONVENTION_NAMES, type ConventionName, type MetricRecord, type Summary, evaluateCase, summarize, writeRecordsCsv,
  writeSummaryJson,
} from '../metrics/index.ts';
import { UsageError } from './usage.ts';

export interface EvaluateCliOptions {
  pred: string; gt: string; out: string; spacing?: string; labels?: string; convention: string; tolerance: number;
  /** Do not print the table (programmatic use). */
  quiet?: boolean;
}

export interface EvaluateFoldersOptions {
  pred: string; gt: string;
  /** Per-axis spacing in tensor axis order ([sy, sx] or [sz, sy, sx]); default from the files. */
  spacing?: number[];
  labels?: number[];
  convention?: ConventionName;
  tolerance?: number;
}

export interface EvaluateReport {
  records: MetricRecord[];
  summary: Summary;
  /** Ground-truth case ids with no prediction (not scored). */
  missing: string[];
  /** Prediction files skipped as overlays / probability maps. */
  ignored: string[];
  warnings: string[];
  gtKind: 'dataset' | 'folder';
}

const IGNORED = /_(overlay|prob|probs|probability|probabilities)$/i;
const SUFFIXES = [...DEFAULT_MASK_SUFFIXES, '_0000'];
/** A trailing mask suffix (optionally _<n>), to name missing plain-folder cases by their case stem. */
const SUFFIX_RE = new RegExp(`(${DEFAULT_MASK_SUFFIXES.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(_\\d+)?$`, 'i');
const isVolume = (p: string): boolean => /\.nii(\.gz)?$/i.test(p);
const isLossy = (p: string): boolean => ['.jpg', '.jpeg', '.webp'].includes(extname(p).toLowerCase());
const list = (xs: string[], max = 3): string => xs.slice(0, max).join(', ') + (xs.length > max ? ` and ${xs.length - max} more` : '');
const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A ground-truth case: its pairing entry, and how to read its header shape and its decoded label map. */
interface GtCase { entry: FileEntry; shape: () => Promise<number[]>; load: () => Promise<{ mask: Tensor; spacing: number[] }> }

async function headerShape(path: string): Promise<number[]> {
  if (isVolume(path)) return (await readNiftiInfo(path)).geometry.shape;
  const i = await readImageInfo(path);
  return [i.height, i.width];
}

/** A mask file as a label map: the grey channel (max over RGB for colour files) decoded, or NIfTI label indices. */
async function readMaskFile(path: string): Promise<{ mask: Tensor; spacing: number[] }> {
  if (isVolume(path)) {
    const v = await readNifti(path);
    const mask = decodeMask(v.data, { kind: 'labels' }, { path });
    v.data.dispose();
    return { mask, spacing: [...v.geometry.spacing] };
  }
  const img = await readImage(path, { channels: 'keep' });
  const mask = tidy(() => {
    const t = rawToTensor(img);
    return decodeMask(img.channels <= 2 ? t.select(2, 0) : t.narrow(2, 0, 3).amax(2), { kind: 'auto' }, { path, lossy: isLossy(path) });
  });
  return { mask, spacing: [1, 1] };
}

function fileCase(f: FileEntry): GtCase {
  return { entry: f, shape: () => headerShape(f.path), load: () => readMaskFile(f.path) };
}

function datasetCase(rec: SampleRecord, index: DatasetIndex): GtCase {
  return {
    entry: { name: basename(rec.maskPath!), path: rec.maskPath!, stem: rec.id, ext: '' },
    shape: () => headerShape(rec.maskPath!),
    load: async () => {
      const s = await loadSample(rec, { extras: false, checkGeometry: false }, index);
      const mask = s.mask!;
      s.mask = undefined;
      disposeSample(s);
      return { mask, spacing: s.spacing };
    },
  };
}

const subdirs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
const findDir = (dirs: string[], names: readonly string[]): string | undefined => dirs.find((d) => names.includes(d.toLowerCase()));

/** Ground-truth cases of --gt: a dataset folder, a dataset's label folder, or a plain folder of masks. */
async function groundTruth(gt: string): Promise<{ cases: GtCase[]; kind: 'dataset' | 'folder'; where: string }> {
  if (!existsSync(gt) || !statSync(gt).isDirectory()) throw new UsageError(`--gt ${gt}: not a folder`);
  const dirs = subdirs(gt);
  if (dirs.includes('imagesTr') || (findDir(dirs, IMAGE_DIRS) && findDir(dirs, MASK_DIRS))) {
    const index = await discoverDataset(gt, { allowUnlabeled: true });
    return { cases: index.samples.map((r) => datasetCase(r, index)), kind: 'dataset', where: gt };
  }
  const labelDir = dirs.includes('labelsTr') ? 'labelsTr' : findDir(dirs, MASK_DIRS);
  const where = labelDir && (await listDataFiles(gt)).files.length === 0 ? join(gt, labelDir) : gt;
  return { cases: (await listDataFiles(where)).files.map(fileCase), kind: 'folder', where };
}

function duplicates(entries: FileEntry[], what: string): void {
  const seen = new Map<string, string>();
  for (const e of entries) {
    const prev = seen.get(e.stem);
    if (prev !== undefined) throw new UsageError(`two ${what} share the stem ${JSON.stringify(e.stem)}: ${prev} and ${e.name}`);
    seen.set(e.stem, e.name);
  }
}

/** Pairs predictions with ground-truth cases by the rules in the header; throws UsageError on ambiguity. */
function pairCases(gts: GtCase[], preds: FileEntry[]): { pairs: { id: string; pred: FileEntry; gt: GtCase[] }[]; unpairedPred: FileEntry[]; missing: GtCase[] } {
  duplicates(preds, 'predictions');
  duplicates(gts.map((g) => g.entry), 'ground-truth files');
  const byPath = new Map(gts.map((g) => [g.entry.path, g]));
  const ambiguous = (err: unknown, what: string): never => {
    if (err instanceof DataError && err.code === 'AMBIGUOUS') throw new UsageError(`${what} ${basename(err.path ?? '')} matches several files; keep one`);
    throw err;
  };
  let first;
  try { first = pairByStem(gts.map((g) => g.entry), preds, SUFFIXES); } catch (err) { ambiguous(err, 'ground truth'); }
  const pairs: { id: string; pred: FileEntry; gt: GtCase[] }[] = [];
  for (const p of first!.pairs) {
    if (p.masks.length > 1) throw new UsageError(`ground truth ${p.image.name} matches several predictions: ${list(p.masks.map((m) => m.name))}`);
    if (p.masks.length === 1) pairs.push({ id: p.image.stem, pred: p.masks[0]!, gt: [byPath.get(p.image.path)!] });
  }
  let second;
  try { second = pairByStem(first!.unpairedMasks, first!.unpairedImages, SUFFIXES); } catch (err) { ambiguous(err, 'prediction'); }
  for (const p of second!.pairs) if (p.masks.length) pairs.push({ id: p.image.stem, pred: p.image, gt: p.masks.map((m) => byPath.get(m.path)!) });
  return { pairs, unpairedPred: second!.unpairedImages, missing: second!.unpairedMasks.map((m) => byPath.get(m.path)!) };
}

/** Scores every paired case; see the header for the pairing, missing-case and spacing rules. */
export async function evaluateFolders(opts: EvaluateFoldersOptions): Promise<EvaluateReport> {
  if (!existsSync(opts.pred) || !statSync(opts.pred).isDirectory()) throw new UsageError(`--pred ${opts.pred}: not a folder`);
  const all = (await listDataFiles(opts.pred)).files;
  const preds = all.filter((f) => !IGNORED.test(f.stem));
  const ignored = all.filter((f) => IGNORED.test(f.stem)).map((f) => f.name);
  if (preds.length === 0) throw new UsageError(`no prediction masks (.png, .nii.gz, ...) in ${opts.pred}`);
  const gt = await groundTruth(opts.gt);
  if (gt.cases.length === 0) throw new UsageError(`no ground-truth masks in ${gt.where}`);
  const { pairs, unpairedPred, missing } = pairCases(gt.cases, preds);
  if (unpairedPred.length) {
    throw new UsageError(`${unpairedPred.length} prediction(s) have no ground truth in ${gt.where}: ${list(unpairedPred.map((p) => p.name))} (pairing is by stem, optionally plus a mask suffix such as _mask or _segmentation)`);
  }
  // Shapes from headers first, so a mismatch fails before minutes of scoring.
  for (const { id, pred, gt: g } of pairs) {
    const [ps, gs] = [await headerShape(pred.path), await g[0]!.shape()];
    if (ps.length !== gs.length || ps.some((d, i) => d !== gs[i])) {
      throw new UsageError(`shape mismatch for case ${id}: prediction ${pred.name} is ${fmtShape(ps)} but ground truth ${g[0]!.entry.name} is ${fmtShape(gs)}`);
    }
  }
  const records: MetricRecord[] = [];
  const warnings: string[] = [];
  for (const { id, pred, gt: g } of pairs) {
    const owned: Tensor[] = [];
    try {
      const p = await readMaskFile(pred.path);
      owned.push(p.mask);
      const loaded: { mask: Tensor; spacing: number[] }[] = [];
      for (const c of g) {
        loaded.push(await c.load());
        owned.push(loaded.at(-1)!.mask);
      }
      const gtMask = tidy(() => loaded.slice(1).reduce((m, l) => m.maximum(l.mask.to(m.dtype)), loaded[0]!.mask));
      if (gtMask !== loaded[0]!.mask) owned.push(gtMask); // several ground-truth parts merged by union
      const ndim = gtMask.ndim;
      if (opts.spacing && opts.spacing.length !== ndim && opts.spacing.length !== 1) {
        throw new UsageError(`--spacing has ${opts.spacing.length} values but case ${id} is ${ndim}D ${fmtShape(gtMask.shape)}`);
      }
      const spacing = opts.spacing ? (opts.spacing.length === 1 ? Array<number>(ndim).fill(opts.spacing[0]!) : opts.spacing) : loaded[0]!.spacing;
      if (!opts.spacing && ndim === 3 && p.spacing.some((s, i) => Math.abs(s - spacing[i]!) > 1e-3 * spacing[i]!)) {
        warnings.push(`${id}: prediction header spacing ${fmtShape(p.spacing)} differs from the ground truth's ${fmtShape(spacing)} (the ground truth's is used)`);
      }
      if (p.mask.shape.some((d, i) => d !== gtMask.shape[i])) {
        throw new UsageError(`shape mismatch for case ${id}: prediction ${pred.name} is ${fmtShape(p.mask.shape)} but ground truth is ${fmtShape(gtMask.shape)}`);
      }
      records.push(...evaluateCase(p.mask, gtMask, { spacing, labels: opts.labels, convention: opts.convention, tolerance: opts.tolerance, caseId: id }));
    } finally {
      dispose(owned);
    }
  }
  return { records, summary: summarize(records), missing: missing.map((m) => (gt.kind === 'folder' ? m.entry.stem.replace(SUFFIX_RE, '') || m.entry.stem : m.entry.stem)), ignored, warnings, gtKind: gt.kind };
}

function parseList(v: string, flag: string, ok: (n: number) => boolean, expected: string): number[] {
  const xs = v.split(',').map((s) => s.trim());
  const ns = xs.map(Number);
  if (xs.some((s) => s === '') || !ns.every(ok)) throw new UsageError(`${flag} ${v}: expected ${expected}`);
  return ns;
}

/** --spacing x,y[,z] (x first, as ITK/SimpleITK print it) → tensor axis order [.., y, x]; one value = isotropic. */
export function parseSpacing(v: string): number[] {
  const s = parseList(v, '--spacing', (n) => Number.isFinite(n) && n > 0, 'one, two or three positive numbers x,y[,z]');
  if (s.length > 3) throw new UsageError(`--spacing ${v}: expected one, two or three positive numbers x,y[,z]`);
  return s.reverse();
}

export function parseLabels(v: string): number[] {
  return parseList(v, '--labels', (n) => Number.isInteger(n) && n >= 1, 'a comma-separated list of labels >= 1, e.g. 1,2');
}

/** Writes a file through a temporary sibling and a rename (atomic on one file system). */
function atomically(path: string, write: (tmp: string) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    write(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

const cell = (m: { mean: number | null; std: number | null; median: number | null }, digits: number): string =>
  m.mean === null ? '-' : `${m.mean.toFixed(digits)}±${m.std!.toFixed(digits)} [${m.median!.toFixed(digits)}]`;

/** The compact per-label table: n, mean±std [median] of Dice, IoU, HD95, ASSD, NSD, and empty/failed counts. */
export function formatTable(summary: Summary): string {
  const groups = Object.entries(summary.perLabel);
  if (groups.length > 1) groups.push(['all', summary.overall]);
  const head = ['label', 'n', 'Dice', 'IoU', 'HD95', 'ASSD', `NSD@${summary.tolerances.join('/')}`, 'both-empty', 'failed'];
  const rows = groups.map(([label, g]) => [label, String(g.records), cell(g.metrics.dice, 3), cell(g.metrics.iou, 3),
    cell(g.metrics.hd95, 2), cell(g.metrics.assd, 2), cell(g.metrics.nsd, 3), String(g.bothEmpty), String(g.failed)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export async function runEvaluate(opts: EvaluateCliOptions): Promise<void> {
  await evaluateCommand(opts);
}

/** The command: parses the flags, scores, writes JSON + CSV atomically, prints the table; returns the report. */
export async function evaluateCommand(opts: EvaluateCliOptions): Promise<EvaluateReport> {
  if (!(CONVENTION_NAMES as readonly string[]).includes(opts.convention)) {
    throw new UsageError(`--convention ${opts.convention}: expected one of ${CONVENTION_NAMES.join(', ')}`);
  }
  if (extname(opts.out).toLowerCase() !== '.json') throw new UsageError(`--out ${opts.out}: expected a .json file (the CSV is written beside it)`);
  const spacing = opts.spacing === undefined ? undefined : parseSpacing(opts.spacing);
  const labels = opts.labels === undefined ? undefined : parseLabels(opts.labels);
  let report: EvaluateReport;
  try {
    report = await evaluateFolders({ pred: opts.pred, gt: opts.gt, spacing, labels, convention: opts.convention as ConventionName, tolerance: opts.tolerance });
  } catch (err) {
    if (err instanceof DataError) throw new UsageError(err.message); // unreadable or inconsistent input files
    throw err;
  }
  const csv = join(dirname(opts.out), `${basename(opts.out, extname(opts.out))}.csv`);
  const json: Summary & Record<string, unknown> = {
    ...report.summary,
    evaluation: {
      pred: opts.pred, gt: opts.gt, gtKind: report.gtKind, csv: basename(csv),
      spacing: spacing ? `given, tensor axis order ${fmtShape(spacing)}` : 'from NIfTI headers (tensor axis order); 2D images 1',
      labels: labels ?? 'all non-zero labels present', ignoredPredictionFiles: report.ignored.length,
      missingRule: 'ground-truth cases without a prediction are not scored; they are listed under missing',
    },
    missing: { count: report.missing.length, ids: report.missing },
    warnings: report.warnings,
  };
  atomically(csv, (tmp) => writeRecordsCsv(tmp, report.records));
  atomically(opts.out, (tmp) => writeSummaryJson(tmp, json));
  if (!opts.quiet) {
    const s = report.summary;
    console.log(`${s.cases} case(s) scored, convention ${s.conventions.join('/')}, NSD tolerance ${s.tolerances.join('/')}; cells: mean±std [median], distances in spacing units`);
    console.log(formatTable(s));
    if (report.missing.length) console.log(`missing: ${report.missing.length} ground-truth case(s) have no prediction and are not scored: ${list(report.missing)}`);
    if (report.warnings.length) console.log(`warning: ${report.warnings.length} case(s): ${report.warnings[0]}${report.warnings.length > 1 ? ' ...' : ''}`);
    console.log(`wrote ${opts.out} and ${csv}`);
  }
  return report;
}
