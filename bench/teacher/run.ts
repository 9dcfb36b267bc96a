// bench/teacher: a SAM teacher trained by `samtutor teacher train` on polyp-kvasir-256 within a wall-clock budget,
// then scored on its held-out split the way the guidance methods use it: prompted with each case's ground-truth box
// (the tight box of the mask, as MedSAM prompts), through SamPredictor on best.pth, masks scored by
// `samtutor evaluate`. Finally `samtutor sam predict --checkpoint best.pth --box ...` is run on one held-out image and
// its mask compared with the API's, showing the checkpoint loads wherever a SAM checkpoint does.
//
//   node --import tsx bench/teacher/run.ts [--data ../shared/data/polyp-kvasir-256] [--arch custom] [--size 256] [--epochs 24]
//       [--minutes 50] [--batch 8] [--lr 5e-4] [--bf16] [--skip-train] [--out bench/out/teacher]
//       [--results bench/results/teacher.json]
//
// The trainer makes the seeded split (80 % train, 10 % val selecting best.pth, 10 % test); the held-out set is the
// test split. --skip-train scores an existing <out>/run. Run nothing else meanwhile if the time matters.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Tensor, dispose, setNumThreads, tidy } from '../../src/engine/index.ts';
import { discoverDataset, loadSample, readImage, writeMask } from '../../src/data/index.ts';
import { SamPredictor, batchedMaskToBox, loadSamCheckpoint } from '../../src/models/sam/index.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(REPO);
const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/polyp-kvasir-256' }, arch: { type: 'string', default: 'custom' }, size: { type: 'string', default: '256' },
    epochs: { type: 'string', default: '24' }, minutes: { type: 'string', default: '50' }, batch: { type: 'string', default: '8' },
    lr: { type: 'string', default: '5e-4' }, bf16: { type: 'boolean', default: false }, 'skip-train': { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' }, out: { type: 'string', default: 'bench/out/teacher' }, results: { type: 'string', default: 'bench/results/teacher.json' },
  },
});
const runDir = join(a.out!, 'run');
const env = { ...process.env, SAMTUTOR_THREADS: a.threads! };

function samtutor(argv: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['bin/samtutor.js', ...argv], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(stdout) : rej(new Error(`samtutor ${argv[0]} failed (exit ${code})`))));
  });
}

// 1. Train (or reuse the run).
if (!a['skip-train']) {
  rmSync(runDir, { recursive: true, force: true });
  await samtutor(['teacher', 'train', '--arch', a.arch!, '--data', a.data!, '--out', runDir, '--size', a.size!, '--epochs', a.epochs!, '--time-budget', a.minutes!,
    '--batch', a.batch!, '--lr', a.lr!, '--seed', '0', ...(a.bf16 ? ['--bf16'] : [])]);
}
const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | null>);
const bestLine = metrics.reduce((b, l) => (typeof l.valDice === 'number' && (b === null || l.valDice > b.valDice!) ? l : b), null as Record<string, number | null> | null);
const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;

// 2. Held-out masks with ground-truth boxes through the predictor (fp32), written under the images' names.
setNumThreads(Number(a.threads));
const split = JSON.parse(readFileSync(join(runDir, 'split.json'), 'utf8')) as { test?: string[]; val: string[] };
const heldout = split.test?.length ? split.test : split.val;
const index = await discoverDataset(a.data!);
const records = new Map(index.samples.map((s) => [s.id, s]));
const predDir = join(a.out!, 'pred');
rmSync(predDir, { recursive: true, force: true });
mkdirSync(predDir, { recursive: true });
const { model, config: samConfig } = loadSamCheckpoint(join(runDir, 'best.pth'), { modelType: 'auto' });
model.eval();
const predictor = new SamPredictor(model, samConfig);
const boxes: Record<string, number[]> = {};
const t0 = performance.now();
for (const id of heldout) {
  const rec = records.get(id);
  if (!rec) throw new Error(`held-out id ${id} is not in ${a.data}`);
  const sample = await loadSample(rec, {}, index);
  const box = tidy(() => batchedMaskToBox(sample.mask!.gt(0)).toArray());
  dispose([sample.image, sample.mask!, ...Object.values(sample.extras)]);
  const img = await readImage(rec.imagePath, { channels: 3 });
  predictor.setImage({ data: img.data as Uint8Array, width: img.width, height: img.height, channels: 3 });
  const r = predictor.predict({ box, multimaskOutput: false });
  await writeMask(join(predDir, `${basename(rec.imagePath, extname(rec.imagePath))}.png`), r.masks.select(0, 0));
  dispose(Object.values(r) as Tensor[]);
  boxes[id] = box;
}
const perImageS = (performance.now() - t0) / 1000 / heldout.length;
predictor.dispose();

// 3. Scored by samtutor evaluate against the dataset's masks.
await samtutor(['evaluate', '--pred', predDir, '--gt', a.data!, '--out', join(a.out!, 'eval.json')]);
const ev = JSON.parse(readFileSync(join(a.out!, 'eval.json'), 'utf8')) as { cases: number; perLabel: Record<string, { metrics: Record<string, { mean: number | null }> }> };
const label = Object.values(ev.perLabel)[0]!;

// 4. The same checkpoint through `samtutor sam predict` on the first held-out image: same mask as the API's.
const first = records.get(heldout[0]!)!;
const cliDir = join(a.out!, 'cli');
rmSync(cliDir, { recursive: true, force: true });
await samtutor(['sam', 'predict', '--checkpoint', join(runDir, 'best.pth'), '--image', first.imagePath, '--box', boxes[heldout[0]!]!.join(','), '--out', cliDir]);
const cliMask = await readImage(join(cliDir, 'mask_0.png'), { channels: 1 });
const apiMask = await readImage(join(predDir, `${basename(first.imagePath, extname(first.imagePath))}.png`), { channels: 1 });
const sameMask = Buffer.compare(Buffer.from(cliMask.data as Uint8Array), Buffer.from(apiMask.data as Uint8Array)) === 0;
model.dispose();

const result = {
  bench: 'teacher', date: new Date().toISOString(), threads: Number(a.threads), data: a.data, command: `samtutor teacher train --arch ${a.arch} --data ${a.data} --size ${a.size} --epochs ${a.epochs} --time-budget ${a.minutes} --batch ${a.batch} --lr ${a.lr}${a.bf16 ? ' --bf16' : ''} --seed 0`,
  model: (config.methodOptions ?? null), epochsRun: metrics.length, trainingMinutes: (metrics.at(-1)?.trainingSeconds ?? 0) / 60,
  bestEpoch: bestLine?.epoch ?? null, timeToBestMinutes: (bestLine?.trainingSeconds ?? 0) / 60, bestValDice: bestLine?.valDice ?? null,
  heldout: { split: split.test?.length ? 'test' : 'val', cases: ev.cases, dice: label.metrics.dice?.mean ?? null, iou: label.metrics.iou?.mean ?? null, hd95: label.metrics.hd95?.mean ?? null },
  predictSecondsPerImage: perImageS, cliLoadsAndMatches: sameMask,
};
console.log(`teacher on ${a.data}: ${result.epochsRun} epochs, ${result.trainingMinutes.toFixed(1)} min of training (best epoch ${result.bestEpoch} at ${result.timeToBestMinutes.toFixed(1)} min, val Dice ${result.bestValDice?.toFixed(3)})`);
console.log(`held-out ${result.heldout.split} split, ${result.heldout.cases} cases, ground-truth box prompts: Dice ${result.heldout.dice?.toFixed(3)}, IoU ${result.heldout.iou?.toFixed(3)}, HD95 ${result.heldout.hd95?.toFixed(1)} px; ${perImageS.toFixed(2)} s per image`);
console.log(`samtutor sam predict on best.pth: ${sameMask ? 'loads; same mask as the API' : 'MASK DIFFERS from the API'}`);
console.log(`acceptance (Dice >= 0.85 on the held-out split): ${(result.heldout.dice ?? 0) >= 0.85 ? 'yes' : 'NO'}`);
mkdirSync(dirname(a.results!), { recursive: true });
writeFileSync(a.results!, `${JSON.stringify(result, null, 1)}\n`);
