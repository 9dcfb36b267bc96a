// `samtutor demo`: trains the small U-Net student on a 2D dataset for a fixed time and plots its loss curve in
// the terminal, then reports Dice on held-out images. A first look at the engine end to end.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import asciichart from 'asciichart';
import {
  F, Generator, autocast, getNumThreads, inferenceMode, manualSeed, randperm, tidy, type Tensor, keep, dispose,
} from '../engine/index.ts';
import { Adam } from '../engine/optim/index.ts';
import { buildUNet, SMALL_UNET_2D } from '../models/unet/index.ts';
import { discoverDataset, loadSample, disposeSample } from '../data/index.ts';
import { UsageError } from './usage.ts';

export interface DemoOptions {
  data: string;
  seconds: number;
  size: number;
  batch: number;
  seed: number;
  bf16?: boolean;
}

const MAX_TRAIN = 400;
const VAL = 50;

/** Loads up to `count` samples, resized to size×size: images float32 in [0,1] [N,3,s,s], masks float32 {0,1} [N,1,s,s]. */
async function loadResized(dataDir: string, size: number, count: number): Promise<{ images: Tensor; masks: Tensor }> {
  const index = await discoverDataset(dataDir);
  if (index.dims !== 2) throw new UsageError(`demo needs a 2D dataset but ${dataDir} holds ${index.dims}D volumes`);
  const records = index.samples.slice(0, count);
  const images: Tensor[] = [];
  const masks: Tensor[] = [];
  for (const rec of records) {
    const s = await loadSample(rec, { channels: 3 });
    tidy(() => {
      const img = F.interpolate(s.image.unsqueeze(0).div(255), { size: [size, size], mode: 'bilinear', antialias: true });
      const mask = F.interpolate(s.mask!.unsqueeze(0).unsqueeze(0).gt(0).float(), { size: [size, size], mode: 'nearest' });
      images.push(keep(img));
      masks.push(keep(mask));
    });
    disposeSample(s);
  }
  const out = tidy(() => ({ images: F.cat(images), masks: F.cat(masks) }));
  dispose([images, masks]);
  return out;
}

function diceLoss(logits: Tensor, target: Tensor): Tensor {
  const p = logits.sigmoid();
  const inter = p.mul(target).sum([1, 2, 3]);
  const denom = p.sum([1, 2, 3]).add(target.sum([1, 2, 3]));
  return inter.mul(2).add(1).div(denom.add(1)).neg().add(1).mean();
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const dataDir = resolve(opts.data);
  if (!existsSync(dataDir)) throw new UsageError(`dataset folder not found: ${opts.data}`);
  manualSeed(opts.seed);
  console.log(`samtutor demo: small U-Net (${SMALL_UNET_2D.widths.join('-')}) on ${opts.data}, ${opts.size}px, batch ${opts.batch}, ` +
    `${opts.seconds}s, ${getNumThreads()} threads`);
  const t0 = performance.now();
  const all = await loadResized(dataDir, opts.size, MAX_TRAIN + VAL);
  const n = all.images.shape[0]!;
  const nVal = Math.min(VAL, Math.floor(n / 5));
  const [trainX, valX] = [all.images.narrow(0, 0, n - nVal), all.images.narrow(0, n - nVal, nVal)];
  const [trainY, valY] = [all.masks.narrow(0, 0, n - nVal), all.masks.narrow(0, n - nVal, nVal)];
  console.log(`loaded ${n} pairs (${n - nVal} train, ${nVal} held out) in ${((performance.now() - t0) / 1000).toFixed(1)}s`);

  const model = buildUNet(SMALL_UNET_2D);
  const optimizer = new Adam(model.parameters(), { lr: 2e-3 });
  const order = new Generator(opts.seed);
  const losses: number[] = [];
  const start = performance.now();
  let step = 0;
  let perm = randperm(n - nVal, { generator: order });
  let cursor = 0;
  while ((performance.now() - start) / 1000 < opts.seconds) {
    if (cursor + opts.batch > n - nVal) {
      perm.dispose();
      perm = randperm(n - nVal, { generator: order });
      cursor = 0;
    }
    const loss = tidy(() => {
      const idx = perm.narrow(0, cursor, opts.batch);
      let x = trainX.indexSelect(0, idx);
      let y = trainY.indexSelect(0, idx);
      if (step % 2 === 1) [x, y] = [x.flip(3), y.flip(3)];
      optimizer.zeroGrad();
      const logits = opts.bf16 ? autocast(() => model.forward(x)).float() : model.forward(x);
      const l = F.bceWithLogits(logits, y).add(diceLoss(logits, y));
      l.backward();
      return l.item();
    });
    optimizer.step();
    losses.push(loss);
    cursor += opts.batch;
    step++;
    if (step % 10 === 0) {
      const elapsed = (performance.now() - start) / 1000;
      // Rewrite one line on a terminal; print one line per update in logs and CI.
      const line = `step ${step}  loss ${loss.toFixed(4)}  ${(step * opts.batch / elapsed).toFixed(1)} img/s  ${elapsed.toFixed(0)}s`;
      process.stdout.write(process.stdout.isTTY ? `\r${line}` : `${line}\n`);
    }
  }
  perm.dispose();
  const trainSeconds = (performance.now() - start) / 1000;
  if (process.stdout.isTTY) process.stdout.write('\n');

  model.eval();
  const dice = inferenceMode(() => tidy(() => {
    const pred = model.forward(valX).gt(0).float();
    const inter = pred.mul(valY).sum([1, 2, 3]);
    const denom = pred.sum([1, 2, 3]).add(valY.sum([1, 2, 3]));
    const both = denom.eq(0);
    return inter.mul(2).div(denom.clamp(1)).where(both.logicalNot(), 1).mean().item();
  }));

  // Smooth and thin the per-step losses to fit a terminal.
  const width = 70;
  const bucket = Math.max(1, Math.ceil(losses.length / width));
  const curve: number[] = [];
  for (let i = 0; i < losses.length; i += bucket) {
    const part = losses.slice(i, i + bucket);
    curve.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  console.log('\nloss (BCE + Dice) per step:');
  console.log(asciichart.plot(curve, { height: 12, format: (x: number) => x.toFixed(3).padStart(7) }));
  console.log(`\n${step} steps (${(step * opts.batch / trainSeconds).toFixed(1)} images/s); ` +
    `held-out Dice ${dice.toFixed(3)} on ${nVal} images after ${trainSeconds.toFixed(0)}s of training`);
  dispose([all, trainX, valX, trainY, valY]);
  optimizer.dispose();
  model.dispose();
}
