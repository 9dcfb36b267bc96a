// bench/supervised: the supervised student trained by samtutor and by PyTorch on one split, budget and thread count.
//
//   node --import tsx bench/supervised/run.ts [--tasks 2d,3d] [--precision fp32|bf16] [--threads 2]
//       [--probe-minutes 3] [--recipe '{"2d": {"epochs": 30}}'] [--reference run|recorded|probe]
//       [--out bench/out/supervised] [--results bench/results/supervised.json] [--python /usr/bin/python3]
//
// Per task (2d: polyp-kvasir-256 in 40 min; 3d: mri-hippocampus in 20 min), from the repository root:
//  1. `samtutor train --method supervised --data ../shared/data/<set> --out <out>/<task>/samtutor-<precision>
//     --time-budget <min> --epochs --seed [--size --batch --lr] [--config <recipe.config>] [--bf16]`; the trainer
//     makes the seeded split (80 % train, 10 % val selecting best.pth, 10 % test) and records the resolved
//     config.json (every automatic choice filled in) and metrics.jsonl;
//  2. `samtutor predict` (best.pth) on the held-out ids (split.test, else split.val; symlinked into a folder), fp32
//     and --bf16; inference images/s = (N − 1) / (T(N images) − T(1 image)), so start-up and model loading cancel;
//  3. `samtutor evaluate` of those masks against the dataset → held-out Dice / HD95 (mean over labels);
//  4. bench/supervised/reference.py with the flags of that config.json (same split, U-Net config and seed, so the
//     same initial weights, data order, patches and augmentation draws; same budget and threads), its held-out
//     masks scored by the same `samtutor evaluate`; the first epoch's training loss of both sides is printed as a
//     check that they compute the same thing;
//  5. training throughput in the other precision: a --probe-minutes run per side (0 skips it).
// Prints one table (Dice, HD95, time to best, train / inference images/s in fp32 and bf16, samtutor / PyTorch) and
// the acceptance checks (2D Dice ≥ 0.78 within 40 min, 3D ≥ 0.80 within 20 min, training throughput ≥ 0.95× PyTorch),
// and merges the results into bench/results/supervised.json. `--reference recorded` reuses the PyTorch rows stored
// there (same recipe required) instead of training the reference again; `--reference probe` measures only PyTorch's
// training throughput (a probe per precision on samtutor's split and config), not its Dice.
//
// Duration on this 2-core machine with the defaults: 40 + 40 min (2D) + 20 + 20 min (3D) of training, 4 probes of
// 3 min, prediction and evaluation a few minutes: about 2 h 15 min (1 h 15 min with --reference recorded). Run
// nothing else meanwhile: both sides use every core and the budgets are wall-clock. Choose `epochs` so that the
// poly schedule ends near the budget: after a first run, metrics.jsonl's epochSeconds tells how many fit.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { discoverDataset } from '../../src/data/index.ts';

type Task = '2d' | '3d';
type Prec = 'fp32' | 'bf16';
/** null = the trainer's own default; `config` is written to a file for `train --config` (e.g. {model: {widths}}). */
interface Recipe {
  data: string; minutes: number; epochs: number; seed: number; target: number;
  size: number | null; batch: number | null; lr: number | null; config: Record<string, unknown> | null;
}
interface Side {
  dice: number | null; hd95: number | null; perLabel: Record<string, { dice: number | null; hd95: number | null }>; cases: number;
  timeToBestMin: number | null; trainMin: number | null; firstEpochLoss: number | null;
  trainImagesPerSec: Partial<Record<Prec, number | null>>; inferImagesPerSec: Partial<Record<Prec, number | null>>;
}

// 2D at 192² (≈ 9 images/s fp32 here → ~90 s per epoch of 800 images with validation); 3D with the trainer's
// automatic patch (median case shape, 40×56×40) and batch 2. Change them with --recipe.
const RECIPES: Record<Task, Recipe> = {
  '2d': { data: 'polyp-kvasir-256', minutes: 40, epochs: 25, seed: 0, target: 0.78, size: 192, batch: 8, lr: null, config: null },
  '3d': { data: 'mri-hippocampus', minutes: 20, epochs: 10, seed: 0, target: 0.8, size: null, batch: null, lr: null, config: null },
};

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(REPO); // data paths are relative to the repository root (../shared/data)
const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '2d,3d' }, precision: { type: 'string', default: 'fp32' }, threads: { type: 'string', default: '2' },
    'probe-minutes': { type: 'string', default: '3' }, recipe: { type: 'string', default: '{}' }, reference: { type: 'string', default: 'run' },
    out: { type: 'string', default: 'bench/out/supervised' }, results: { type: 'string', default: 'bench/results/supervised.json' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const tasks = args.tasks!.split(',') as Task[];
const precision = args.precision as Prec;
const other: Prec = precision === 'fp32' ? 'bf16' : 'fp32';
const threads = Number(args.threads), probeMin = Number(args['probe-minutes']);
const overrides = JSON.parse(args.recipe!) as Partial<Record<Task, Partial<Recipe>>>;
if (!tasks.every((t) => t in RECIPES) || !['fp32', 'bf16'].includes(precision) || !['run', 'recorded', 'probe'].includes(args.reference!)) {
  throw new Error('usage: --tasks 2d,3d --precision fp32|bf16 --reference run|recorded|probe (see the header of bench/supervised/run.ts)');
}
const env = { ...process.env, SAMTUTOR_THREADS: String(threads) };

/** Runs a command, echoing its output to stderr unless quiet; resolves with stdout and the wall time. */
function run(cmd: string, argv: string[], quiet = false): Promise<{ stdout: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const p = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; if (!quiet) process.stderr.write(d); });
    p.stderr.on('data', (d: Buffer) => { stderr += d; if (!quiet) process.stderr.write(d); });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res({ stdout, seconds: (performance.now() - t0) / 1000 })
      : rej(new Error(`${basename(cmd)} ${argv.slice(0, 2).join(' ')} failed (exit ${code}): ${stderr.trim().split('\n').pop()}`))));
  });
}
const samtutor = (argv: string[], quiet = false) => run(process.execPath, ['bin/samtutor.js', ...argv], quiet);
const readJson = <T = Record<string, unknown>>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** From metrics.jsonl: throughput over all epochs (harmonic mean of imagesPerSecond: equal images per epoch),
 * trainingSeconds (epoch wall time, validation included) at the best valDice and at the end, the first trainLoss. */
function trainLog(runDir: string): { perSec: number | null; timeToBestS: number | null; trainS: number | null; firstLoss: number | null } {
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | null>);
  const rates = lines.map((l) => l.imagesPerSecond).filter((v): v is number => typeof v === 'number' && v > 0);
  let best: Record<string, number | null> | undefined;
  for (const l of lines) if (typeof l.valDice === 'number' && (!best || l.valDice > best.valDice!)) best = l;
  return {
    perSec: rates.length ? rates.length / rates.reduce((s, r) => s + 1 / r, 0) : null,
    timeToBestS: (best ?? lines.at(-1))?.trainingSeconds ?? null, trainS: lines.at(-1)?.trainingSeconds ?? null, firstLoss: lines[0]?.trainLoss ?? null,
  };
}

/** reference.py flags for samtutor's resolved config.json; throws on settings the reference does not mirror. */
function referenceFlags(cfg: Record<string, any>, dims: 2 | 3): string[] {
  const l = cfg.loss ?? {};
  const unsupported = [
    cfg.optimizer === 'sgd' && 'optimizer sgd', cfg.schedule !== 'poly' && `schedule ${cfg.schedule}`, cfg.augment === 'strong' && 'augment strong',
    (l.name !== 'dice-ce' || l.batchDice || l.boundary || l.lambdaDice !== 1 || l.lambdaCE !== 1 || l.smooth !== 1e-5) && `loss ${JSON.stringify(l)}`,
    (cfg.data?.length ?? 1) > 1 && 'several --data folders',
  ].filter(Boolean);
  if (unsupported.length) throw new Error(`reference.py does not mirror: ${unsupported.join('; ')}`);
  return [
    '--model-config', JSON.stringify(cfg.model), ...(dims === 2 ? ['--size', String(cfg.size), '--norm', cfg.normalization] : ['--patch', cfg.patchSize.join(',')]),
    '--batch', String(cfg.batch), '--iters-per-epoch', String(cfg.iterationsPerEpoch), '--lr', String(cfg.lr), '--optimizer', cfg.optimizer,
    '--wd', String(cfg.weightDecay), '--epochs', String(cfg.epochs), '--augment', cfg.augment, '--fg-prob', String(cfg.foregroundProb),
    '--overlap', String(cfg.overlap), '--val-every', String(cfg.valEvery), '--seed', String(cfg.seed), ...(l.includeBackground ? ['--dice-include-bg'] : []),
  ];
}

/** `samtutor evaluate` of a prediction folder against the dataset: the mean over labels of the per-label means. */
async function evaluate(pred: string, data: string, out: string): Promise<Pick<Side, 'dice' | 'hd95' | 'perLabel' | 'cases'>> {
  await samtutor(['evaluate', '--pred', pred, '--gt', data, '--out', out], true);
  const s = readJson<{ cases: number; perLabel: Record<string, { metrics: Record<'dice' | 'hd95', { mean: number | null }> }> }>(out);
  const perLabel = Object.fromEntries(Object.entries(s.perLabel).map(([k, g]) => [k, { dice: g.metrics.dice.mean, hd95: g.metrics.hd95.mean }]));
  return { dice: mean(Object.values(perLabel).map((v) => v.dice)), hd95: mean(Object.values(perLabel).map((v) => v.hd95)), perLabel, cases: s.cases };
}

function trainArgs(r: Recipe, dir: string, out: string, minutes: number, prec: Prec, split?: string): string[] {
  const opt = (flag: string, v: number | null): string[] => (v === null ? [] : [flag, String(v)]);
  if (r.config) writeFileSync(join(dir, 'recipe-config.json'), JSON.stringify(r.config));
  return ['train', '--method', 'supervised', '--data', `../shared/data/${r.data}`, '--out', out, '--time-budget', String(minutes),
    '--epochs', String(r.epochs), '--seed', String(r.seed), ...opt('--size', r.size), ...opt('--batch', r.batch), ...opt('--lr', r.lr),
    ...(r.config ? ['--config', join(dir, 'recipe-config.json')] : []), ...(prec === 'bf16' ? ['--bf16'] : []), ...(split ? ['--split', split] : [])];
}

async function samtutorSide(task: Task, r: Recipe, dir: string): Promise<Side> {
  const runDir = join(dir, `samtutor-${precision}`);
  rmSync(runDir, { recursive: true, force: true });
  console.error(`\n[${task}] samtutor train, ${r.minutes} min, ${precision}`);
  await samtutor(trainArgs(r, dir, runDir, r.minutes, precision));
  const log = trainLog(runDir);
  const split = readJson<{ val: string[]; test?: string[] }>(join(runDir, 'split.json'));
  const heldout = split.test?.length ? split.test : split.val;
  const index = await discoverDataset(`../shared/data/${r.data}`);
  const byId = new Map(index.samples.map((s) => [s.id, s.imagePath]));
  for (const [name, ids] of [['heldout', heldout], ['heldout-1', heldout.slice(0, 1)]] as const) {
    rmSync(join(dir, name), { recursive: true, force: true });
    mkdirSync(join(dir, name), { recursive: true });
    for (const id of ids) symlinkSync(resolve(byId.get(id)!), join(dir, name, basename(byId.get(id)!)));
  }
  const infer: Side['inferImagesPerSec'] = {};
  for (const prec of ['fp32', 'bf16'] as const) {
    const predict = (input: string, out: string) => {
      rmSync(join(dir, out), { recursive: true, force: true });
      return samtutor(['predict', '--model', runDir, '--input', join(dir, input), '--out', join(dir, out), ...(prec === 'bf16' ? ['--bf16'] : [])], true);
    };
    const one = await predict('heldout-1', `pred-1-${prec}`);
    const all = await predict('heldout', `pred-${prec}`);
    infer[prec] = heldout.length > 1 ? (heldout.length - 1) / Math.max(all.seconds - one.seconds, 1e-3) : null;
  }
  const scores = await evaluate(join(dir, `pred-${precision}`), `../shared/data/${r.data}`, join(dir, 'eval-samtutor.json'));
  const trainImagesPerSec: Side['trainImagesPerSec'] = { [precision]: log.perSec };
  if (probeMin > 0) {
    const probeDir = join(dir, `samtutor-probe-${other}`);
    rmSync(probeDir, { recursive: true, force: true });
    console.error(`\n[${task}] samtutor throughput probe, ${probeMin} min, ${other}`);
    await samtutor(trainArgs(r, dir, probeDir, probeMin, other, join(runDir, 'split.json')));
    trainImagesPerSec[other] = trainLog(probeDir).perSec;
  }
  const min = (s: number | null): number | null => (s === null ? null : s / 60);
  return { ...scores, timeToBestMin: min(log.timeToBestS), trainMin: min(log.trainS), firstEpochLoss: log.firstLoss, trainImagesPerSec, inferImagesPerSec: infer };
}

async function pytorchSide(task: Task, r: Recipe, dir: string): Promise<Side> {
  const runDir = join(dir, `samtutor-${precision}`);
  const split = join(runDir, 'split.json');
  if (!existsSync(split)) throw new Error(`${split} not found: the reference trains on samtutor's split and config (run the samtutor side first)`);
  const cfg = readJson(join(runDir, 'config.json'));
  const dims = (cfg.model as { spatialDims: 2 | 3 }).spatialDims;
  const flags = referenceFlags(cfg, dims);
  const ref = (minutes: number, prec: Prec, extra: string[]) => run(args.python!, ['bench/supervised/reference.py', '--data', `../shared/data/${r.data}`,
    '--dims', String(dims), '--split', split, ...flags, '--time-budget', String(minutes), '--threads', String(threads), ...(prec === 'bf16' ? ['--bf16'] : []), ...extra]);
  const events = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  console.error(`\n[${task}] PyTorch reference, ${r.minutes} min, ${precision}`);
  const pred = join(dir, 'pytorch-pred');
  rmSync(pred, { recursive: true, force: true });
  const ev = events((await ref(r.minutes, precision, ['--pred-out', pred])).stdout);
  const final = ev.find((e) => e.event === 'final')!;
  const scores = await evaluate(join(pred, precision), `../shared/data/${r.data}`, join(dir, 'eval-pytorch.json'));
  const trainImagesPerSec: Side['trainImagesPerSec'] = { [precision]: final.train_images_per_s };
  if (probeMin > 0) {
    console.error(`\n[${task}] PyTorch throughput probe, ${probeMin} min, ${other}`);
    const probe = events((await ref(probeMin, other, ['--infer-precisions', 'none', '--val-every', '1000000'])).stdout);
    trainImagesPerSec[other] = probe.find((e) => e.event === 'final')!.train_images_per_s;
  }
  return {
    ...scores, timeToBestMin: final.time_to_best_s / 60, trainMin: final.training_s / 60, firstEpochLoss: ev.find((e) => e.event === 'epoch')?.loss ?? null,
    trainImagesPerSec, inferImagesPerSec: { fp32: final.infer.fp32?.infer_images_per_s ?? null, bf16: final.infer.bf16?.infer_images_per_s ?? null },
  };
}

/** --reference probe: PyTorch's training throughput only (a probe in each precision), no full reference run. */
async function pytorchProbeSide(task: Task, r: Recipe, dir: string): Promise<Side> {
  if (probeMin <= 0) throw new Error('--reference probe needs --probe-minutes > 0');
  const runDir = join(dir, `samtutor-${precision}`);
  const cfg = readJson(join(runDir, 'config.json'));
  const dims = (cfg.model as { spatialDims: 2 | 3 }).spatialDims;
  const flags = referenceFlags(cfg, dims);
  const trainImagesPerSec: Side['trainImagesPerSec'] = {};
  let firstEpochLoss: number | null = null;
  for (const prec of ['fp32', 'bf16'] as const) {
    console.error(`\n[${task}] PyTorch throughput probe, ${probeMin} min, ${prec}`);
    const { stdout } = await run(args.python!, ['bench/supervised/reference.py', '--data', `../shared/data/${r.data}`, '--dims', String(dims),
      '--split', join(runDir, 'split.json'), ...flags, '--time-budget', String(probeMin), '--threads', String(threads),
      ...(prec === 'bf16' ? ['--bf16'] : []), '--infer-precisions', 'none', '--val-every', '1000000']);
    const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    trainImagesPerSec[prec] = events.find((e) => e.event === 'final')!.train_images_per_s;
    // Same split, seed and config as samtutor's main run: the first epoch's loss in that precision should agree.
    if (prec === precision) firstEpochLoss = events.find((e) => e.event === 'epoch')?.loss ?? null;
  }
  return { dice: null, hd95: null, perLabel: {}, cases: 0, timeToBestMin: null, trainMin: null, firstEpochLoss, trainImagesPerSec, inferImagesPerSec: {} };
}

const f = (v: number | null | undefined, d = 3): string => (v === null || v === undefined ? '-' : v.toFixed(d));
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? a / b : null);
const previous = existsSync(args.results!) ? readJson<{ tasks?: Record<string, { recipe: Recipe; pytorch?: Side }> }>(args.results!) : {};
const results: Record<string, unknown> = {};
const rows: string[] = [];
for (const task of tasks) {
  const r: Recipe = { ...RECIPES[task], ...overrides[task] };
  const dir = join(args.out!, task);
  mkdirSync(dir, { recursive: true });
  const st = await samtutorSide(task, r, dir);
  let pt: Side;
  if (args.reference === 'recorded') {
    const rec = previous.tasks?.[task];
    if (!rec?.pytorch || JSON.stringify(rec.recipe) !== JSON.stringify(r)) throw new Error(`no recorded PyTorch run of ${task} with this recipe in ${args.results}`);
    pt = rec.pytorch;
  } else if (args.reference === 'probe') {
    pt = await pytorchProbeSide(task, r, dir);
  } else {
    pt = await pytorchSide(task, r, dir);
  }
  const ratios = {
    train: { fp32: ratio(st.trainImagesPerSec.fp32, pt.trainImagesPerSec.fp32), bf16: ratio(st.trainImagesPerSec.bf16, pt.trainImagesPerSec.bf16) },
    infer: { fp32: ratio(st.inferImagesPerSec.fp32, pt.inferImagesPerSec.fp32), bf16: ratio(st.inferImagesPerSec.bf16, pt.inferImagesPerSec.bf16) },
  };
  const acceptance = {
    dice: st.dice !== null && st.dice >= r.target && (st.timeToBestMin ?? Infinity) <= r.minutes,
    throughput: (ratios.train[precision] ?? 0) >= 0.95,
  };
  results[task] = { recipe: r, samtutor: st, pytorch: pt, ratios, acceptance };
  for (const [name, s] of [['samtutor', st], ['PyTorch', pt]] as const) {
    rows.push(`| ${task} | ${name} | ${f(s.dice)} | ${f(s.hd95, 2)} | ${f(s.timeToBestMin, 1)} | ${f(s.trainImagesPerSec.fp32, 1)} | ${f(s.trainImagesPerSec.bf16, 1)} | ${f(s.inferImagesPerSec.fp32, 1)} | ${f(s.inferImagesPerSec.bf16, 1)} |`);
  }
  rows.push(`| ${task} | samtutor / PyTorch | ${f(ratio(st.dice, pt.dice))} | | | ${f(ratios.train.fp32)} | ${f(ratios.train.bf16)} | ${f(ratios.infer.fp32)} | ${f(ratios.infer.bf16)} |`);
  console.error(`[${task}] first-epoch training loss: samtutor ${f(st.firstEpochLoss, 6)}, PyTorch ${f(pt.firstEpochLoss, 6)}`);
  console.error(`[${task}] acceptance: Dice ${f(st.dice)} >= ${r.target} within ${r.minutes} min: ${acceptance.dice ? 'yes' : 'NO'}; train throughput ratio (${precision}) >= 0.95: ${acceptance.throughput ? 'yes' : 'NO'}`);
}
console.log(`\nbench/supervised: ${threads} threads, main runs ${precision}; held-out Dice / HD95 by samtutor evaluate (mean over labels)`);
console.log('| task | side | Dice | HD95 | time to best (min) | train img/s fp32 | train img/s bf16 | infer img/s fp32 | infer img/s bf16 |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
mkdirSync(dirname(args.results!), { recursive: true });
writeFileSync(args.results!, `${JSON.stringify({ bench: 'supervised', date: new Date().toISOString(), threads, precision, tasks: { ...(previous.tasks ?? {}), ...results } }, null, 1)}\n`);
console.log(`\nwrote ${args.results}`);
