// bench/supervised: the supervised student trained by samtutor and by PyTorch on one split, budget and thread count.
//
//   node --import tsx bench/supervised/run.ts [--tasks 2d,3d] [--precision fp32|bf16] [--threads 2]
//       [--phases main,throughput] [--probe-minutes 1.5] [--rounds 3] [--recipe '{"2d": {"epochs": 30}}']
//       [--reference run|recorded|none] [--out bench/out/supervised] [--results bench/results/supervised.json]
//       [--python /usr/bin/python3]
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
//  5. training throughput (the `throughput` phase), fp32 and bf16: --rounds paired probes, each a samtutor and a
//     PyTorch training run of --probe-minutes (whole epochs, on the main run's split and config), the two sides
//     alternating who goes first. Each side's figure is the median over rounds, the ratio the median of the
//     per-round ratios. Pairing matters here: this VM's speed drifts by 10 % over tens of minutes (one 45-epoch
//     run ranged 14.6–17.8 images/s), so a 40-min run on one side against a 3-min probe on the other measured the
//     drift as much as the software. The main runs' own mean images/s are recorded as well (mainRunImagesPerSec).
// Prints one table (Dice, HD95, time to best, train / inference images/s in fp32 and bf16, samtutor / PyTorch) and
// the acceptance checks (2D Dice ≥ 0.78 within 40 min, 3D ≥ 0.80 within 20 min, training throughput ≥ 0.95× PyTorch
// in both precisions), and merges the results into bench/results/supervised.json. `--reference recorded` reuses the
// PyTorch Dice rows stored there (same recipe required) instead of training the reference again; `--reference none`
// trains no reference for Dice. `--phases throughput` re-measures only the throughput of an earlier main run (its
// run directory and recorded samtutor row are reused).
//
// Duration on this 2-core machine with the defaults: 40 + 40 min (2D) + 20 + 20 min (3D) of training, 2 × 3 × 2
// probes of about 2 min per task, prediction and evaluation a few minutes: about 2 h 50 min (1 h 50 min with
// --reference recorded; 50 min for --phases throughput). Run nothing else meanwhile: both sides use every core and
// the budgets are wall-clock. Choose `epochs` so that the poly schedule ends near the budget: after a first run,
// metrics.jsonl's epochSeconds tells how many fit.
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
  /** Training images/s from the paired probes (median over rounds); the main run's own mean is mainRunImagesPerSec. */
  trainImagesPerSec: Partial<Record<Prec, number | null>>; inferImagesPerSec: Partial<Record<Prec, number | null>>;
  mainRunImagesPerSec: Partial<Record<Prec, number | null>>;
}
/** One paired throughput round: both sides' training images/s in one precision, and who ran first. */
interface ProbeRound { precision: Prec; first: 'samtutor' | 'pytorch'; samtutor: number; pytorch: number; ratio: number }

// The recorded runs: 2D at 160², batch 8, 45 epochs (in bf16 they took 39.7 min, ≈ 53 s per epoch of 800 images
// with validation, so the poly schedule ends near the 40-min budget); 3D with the trainer's automatic patch (median
// case shape, 40×56×40), batch 2, 18 epochs. Change them with --recipe.
const RECIPES: Record<Task, Recipe> = {
  '2d': { data: 'polyp-kvasir-256', minutes: 40, epochs: 45, seed: 0, target: 0.78, size: 160, batch: 8, lr: null, config: null },
  '3d': { data: 'mri-hippocampus', minutes: 20, epochs: 18, seed: 0, target: 0.8, size: null, batch: null, lr: null, config: null },
};

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(REPO); // data paths are relative to the repository root (../shared/data)
const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '2d,3d' }, precision: { type: 'string', default: 'fp32' }, threads: { type: 'string', default: '2' },
    phases: { type: 'string', default: 'main,throughput' }, 'probe-minutes': { type: 'string', default: '1.5' }, rounds: { type: 'string', default: '3' },
    recipe: { type: 'string', default: '{}' }, reference: { type: 'string', default: 'run' },
    out: { type: 'string', default: 'bench/out/supervised' }, results: { type: 'string', default: 'bench/results/supervised.json' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const tasks = args.tasks!.split(',') as Task[];
const phases = new Set(args.phases!.split(','));
const precision = args.precision as Prec;
const threads = Number(args.threads), probeMin = Number(args['probe-minutes']), rounds = Number(args.rounds);
const overrides = JSON.parse(args.recipe!) as Partial<Record<Task, Partial<Recipe>>>;
if (!tasks.every((t) => t in RECIPES) || !['fp32', 'bf16'].includes(precision) || !['run', 'recorded', 'none'].includes(args.reference!)
  || ![...phases].every((p) => p === 'main' || p === 'throughput') || !(probeMin > 0) || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error('usage: --tasks 2d,3d --precision fp32|bf16 --phases main,throughput --probe-minutes >0 --rounds >=1 --reference run|recorded|none (see the header of bench/supervised/run.ts)');
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
  const min = (s: number | null): number | null => (s === null ? null : s / 60);
  return {
    ...scores, timeToBestMin: min(log.timeToBestS), trainMin: min(log.trainS), firstEpochLoss: log.firstLoss,
    trainImagesPerSec: {}, inferImagesPerSec: infer, mainRunImagesPerSec: { [precision]: log.perSec },
  };
}

/** samtutor's main run directory for a task: the reference and the probes train on its split and resolved config. */
function mainRun(dir: string): { runDir: string; split: string; cfg: Record<string, any>; dims: 2 | 3 } {
  const runDir = join(dir, `samtutor-${precision}`);
  const split = join(runDir, 'split.json');
  if (!existsSync(split)) throw new Error(`${split} not found: the reference and the probes train on samtutor's split and config (run the main phase first)`);
  const cfg = readJson(join(runDir, 'config.json'));
  return { runDir, split, cfg, dims: (cfg.model as { spatialDims: 2 | 3 }).spatialDims };
}

/** reference.py on samtutor's split and config; resolves with its JSON events. */
async function reference(r: Recipe, dir: string, minutes: number, prec: Prec, extra: string[], quiet = false): Promise<Record<string, any>[]> {
  const { split, cfg, dims } = mainRun(dir);
  const { stdout } = await run(args.python!, ['bench/supervised/reference.py', '--data', `../shared/data/${r.data}`, '--dims', String(dims),
    '--split', split, ...referenceFlags(cfg, dims), '--time-budget', String(minutes), '--threads', String(threads),
    ...(prec === 'bf16' ? ['--bf16'] : []), ...extra], quiet);
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
}

async function pytorchSide(task: Task, r: Recipe, dir: string): Promise<Side> {
  console.error(`\n[${task}] PyTorch reference, ${r.minutes} min, ${precision}`);
  const pred = join(dir, 'pytorch-pred');
  rmSync(pred, { recursive: true, force: true });
  const ev = await reference(r, dir, r.minutes, precision, ['--pred-out', pred]);
  const final = ev.find((e) => e.event === 'final')!;
  const scores = await evaluate(join(pred, precision), `../shared/data/${r.data}`, join(dir, 'eval-pytorch.json'));
  return {
    ...scores, timeToBestMin: final.time_to_best_s / 60, trainMin: final.training_s / 60, firstEpochLoss: ev.find((e) => e.event === 'epoch')?.loss ?? null,
    trainImagesPerSec: {}, inferImagesPerSec: { fp32: final.infer.fp32?.infer_images_per_s ?? null, bf16: final.infer.bf16?.infer_images_per_s ?? null },
    mainRunImagesPerSec: { [precision]: final.train_images_per_s },
  };
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

/** The throughput phase: `rounds` paired probes per precision, the sides alternating who goes first. */
async function throughputProbes(task: Task, r: Recipe, dir: string): Promise<{ rounds: ProbeRound[]; firstEpochLoss: Partial<Record<Prec, { samtutor: number | null; pytorch: number | null }>> }> {
  const { split } = mainRun(dir);
  const out: ProbeRound[] = [];
  const firstEpochLoss: Partial<Record<Prec, { samtutor: number | null; pytorch: number | null }>> = {};
  for (const prec of ['fp32', 'bf16'] as const) {
    for (let k = 0; k < rounds; k++) {
      const first = k % 2 === 0 ? 'samtutor' : 'pytorch';
      const rate: { samtutor?: number; pytorch?: number } = {};
      for (const side of first === 'samtutor' ? ['samtutor', 'pytorch'] as const : ['pytorch', 'samtutor'] as const) {
        console.error(`[${task}] throughput probe ${prec} round ${k + 1}/${rounds}: ${side}, ${probeMin} min`);
        if (side === 'samtutor') {
          const probeDir = join(dir, `probe-samtutor-${prec}`);
          rmSync(probeDir, { recursive: true, force: true });
          await samtutor(trainArgs(r, dir, probeDir, probeMin, prec, split), true);
          const log = trainLog(probeDir);
          rate.samtutor = log.perSec!;
          if (k === 0) firstEpochLoss[prec] = { ...firstEpochLoss[prec], samtutor: log.firstLoss } as never;
        } else {
          const ev = await reference(r, dir, probeMin, prec, ['--infer-precisions', 'none', '--val-every', '1000000'], true);
          rate.pytorch = ev.find((e) => e.event === 'final')!.train_images_per_s;
          if (k === 0) firstEpochLoss[prec] = { ...firstEpochLoss[prec], pytorch: ev.find((e) => e.event === 'epoch')?.loss ?? null } as never;
        }
      }
      out.push({ precision: prec, first, samtutor: rate.samtutor!, pytorch: rate.pytorch!, ratio: rate.samtutor! / rate.pytorch! });
      console.error(`[${task}]   ${prec}: samtutor ${rate.samtutor!.toFixed(2)}, PyTorch ${rate.pytorch!.toFixed(2)} images/s, ratio ${(rate.samtutor! / rate.pytorch!).toFixed(3)}`);
    }
  }
  return { rounds: out, firstEpochLoss };
}

const f = (v: number | null | undefined, d = 3): string => (v === null || v === undefined ? '-' : v.toFixed(d));
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? a / b : null);
const previous = existsSync(args.results!) ? readJson<{ precision?: Prec; tasks?: Record<string, { recipe: Recipe; mainPrecision?: Prec; samtutor?: Side; pytorch?: Side }> }>(args.results!) : {};
const results: Record<string, unknown> = {};
const rows: string[] = [];
const emptySide = (): Side => ({
  dice: null, hd95: null, perLabel: {}, cases: 0, timeToBestMin: null, trainMin: null, firstEpochLoss: null, trainImagesPerSec: {}, inferImagesPerSec: {}, mainRunImagesPerSec: {},
});
for (const task of tasks) {
  const r: Recipe = { ...RECIPES[task], ...overrides[task] };
  const dir = join(args.out!, task);
  mkdirSync(dir, { recursive: true });
  const rec = previous.tasks?.[task];
  const sameRecipe = rec !== undefined && JSON.stringify(rec.recipe) === JSON.stringify(r);
  let st: Side, pt: Side;
  if (phases.has('main')) {
    st = await samtutorSide(task, r, dir);
    if (args.reference === 'recorded') {
      if (!sameRecipe || !rec.pytorch) throw new Error(`no recorded PyTorch run of ${task} with this recipe in ${args.results}`);
      pt = { ...emptySide(), ...rec.pytorch, trainImagesPerSec: {} };
    } else {
      pt = args.reference === 'run' ? await pytorchSide(task, r, dir) : emptySide();
    }
  } else {
    // Throughput only: the Dice rows of the recorded main run, whose run directory the probes train from.
    if (!sameRecipe || !rec.samtutor) throw new Error(`--phases throughput needs a recorded main run of ${task} with this recipe in ${args.results}`);
    const mainRate = rec.samtutor.mainRunImagesPerSec ?? { [precision]: rec.samtutor.trainImagesPerSec[precision] ?? null }; // older records
    st = { ...emptySide(), ...rec.samtutor, trainImagesPerSec: {}, mainRunImagesPerSec: mainRate };
    pt = { ...emptySide(), ...(rec.pytorch ?? {}), trainImagesPerSec: {} };
  }
  let probes: Awaited<ReturnType<typeof throughputProbes>> | null = null;
  if (phases.has('throughput')) {
    probes = await throughputProbes(task, r, dir);
    for (const prec of ['fp32', 'bf16'] as const) {
      const rs = probes.rounds.filter((x) => x.precision === prec);
      st.trainImagesPerSec[prec] = median(rs.map((x) => x.samtutor));
      pt.trainImagesPerSec[prec] = median(rs.map((x) => x.pytorch));
    }
  }
  const trainRatio = (prec: Prec): number | null => {
    const rs = probes?.rounds.filter((x) => x.precision === prec) ?? [];
    return rs.length ? median(rs.map((x) => x.ratio)) : null;
  };
  const ratios = {
    train: { fp32: trainRatio('fp32'), bf16: trainRatio('bf16') },
    infer: { fp32: ratio(st.inferImagesPerSec.fp32, pt.inferImagesPerSec.fp32), bf16: ratio(st.inferImagesPerSec.bf16, pt.inferImagesPerSec.bf16) },
  };
  const acceptance = {
    dice: st.dice !== null && st.dice >= r.target && (st.timeToBestMin ?? Infinity) <= r.minutes,
    throughput: probes === null ? null : (ratios.train.fp32 ?? 0) >= 0.95 && (ratios.train.bf16 ?? 0) >= 0.95,
  };
  // The main run's precision (Dice rows); a throughput-only run keeps the recorded one (older files: top-level).
  const mainPrecision = phases.has('main') ? precision : rec?.mainPrecision ?? previous.precision ?? null;
  results[task] = { recipe: r, mainPrecision, samtutor: st, pytorch: pt, ratios, probeRounds: probes?.rounds ?? null, probeMinutes: probes ? probeMin : null, acceptance };
  for (const [name, s] of [['samtutor', st], ['PyTorch', pt]] as const) {
    rows.push(`| ${task} | ${name} | ${f(s.dice)} | ${f(s.hd95, 2)} | ${f(s.timeToBestMin, 1)} | ${f(s.trainImagesPerSec.fp32, 1)} | ${f(s.trainImagesPerSec.bf16, 1)} | ${f(s.inferImagesPerSec.fp32, 1)} | ${f(s.inferImagesPerSec.bf16, 1)} |`);
  }
  rows.push(`| ${task} | samtutor / PyTorch | ${f(ratio(st.dice, pt.dice))} | | | ${f(ratios.train.fp32)} | ${f(ratios.train.bf16)} | ${f(ratios.infer.fp32)} | ${f(ratios.infer.bf16)} |`);
  for (const [prec, l] of Object.entries(probes?.firstEpochLoss ?? {})) {
    console.error(`[${task}] first-epoch training loss, ${prec}: samtutor ${f(l.samtutor, 6)}, PyTorch ${f(l.pytorch, 6)}`);
  }
  const yes = (v: boolean | null): string => (v === null ? 'not measured' : v ? 'yes' : 'NO');
  console.error(`[${task}] acceptance: Dice ${f(st.dice)} >= ${r.target} within ${r.minutes} min: ${yes(acceptance.dice)}; train throughput ratio >= 0.95 in fp32 and bf16: ${yes(acceptance.throughput)}`);
}
console.log(`\nbench/supervised: ${threads} threads, main runs ${tasks.map((t) => `${t} ${(results[t] as { mainPrecision: Prec | null }).mainPrecision ?? '?'}`).join(', ')}; held-out Dice / HD95 by samtutor evaluate (mean over labels); train img/s: median of ${rounds} paired ${probeMin}-min probes, ratio = median of the per-round ratios`);
console.log('| task | side | Dice | HD95 | time to best (min) | train img/s fp32 | train img/s bf16 | infer img/s fp32 | infer img/s bf16 |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
mkdirSync(dirname(args.results!), { recursive: true });
writeFileSync(args.results!, `${JSON.stringify({ bench: 'supervised', date: new Date().toISOString(), threads, tasks: { ...(previous.tasks ?? {}), ...results } }, null, 1)}\n`);
console.log(`\nwrote ${args.results}`);
