// The shared trainer through the supervised method: exact resume (2 + 2 epochs = 4 epochs, bit for bit), the
// checkpoint's contents, its loading in PyTorch (torch.load, strict load_state_dict into reference_unet.py's
// U-Net, the same logits, AdamW state), time budgets and extended runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, dispose, memory, randn, tensor } from '../../src/engine/index.ts';
import { saveCheckpoint } from '../../src/engine/serialization/index.ts';
import { buildUNet } from '../../src/models/unet/index.ts';
import {
  NotACheckpointError, RunDirectory, SupervisedTrainer, TIMING_KEYS, buildConfig, disposeCheckpoint, readCheckpoint, validateConfig,
  type ResolvedConfig,
} from '../../src/methods/index.ts';
import { runTorch, skipWithoutTorch } from '../nn/torch_ref.ts';
import { makeDataset2d, quickConfig, tempDir, useOneThread } from './helpers.ts';

useOneThread();

const sameBits = (a: Tensor, b: Tensor): boolean => Buffer.from((a.data() as Float32Array).buffer).equals(Buffer.from((b.data() as Float32Array).buffer));

function metricsWithoutTiming(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    for (const k of TIMING_KEYS) delete r[k];
    return r;
  });
}

async function setupData(t: { after: (fn: () => void) => void }): Promise<{ dir: string; data: string }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 8);
  return { dir, data: join(dir, 'data') };
}

test('exact resume: 2 epochs, then resuming to 4, equals 4 epochs straight (weights, optimizer state, metrics)', async (t) => {
  const { dir, data } = await setupData(t);
  // Dropout draws from the global RNG and strong augmentation from the augment stream: both must be restored.
  const cfg = buildConfig(quickConfig({ epochs: 4, augment: 'strong', model: { dropout: 0.2 } }), { method: 'supervised', data: [data] });
  const before = memory().liveTensors;
  await new SupervisedTrainer(cfg, { run: RunDirectory.create(join(dir, 'straight')) }).run();
  const partial = await new SupervisedTrainer(cfg, { run: RunDirectory.create(join(dir, 'resumed')) }).run({ stopAfterEpoch: 2 });
  assert.deepEqual([partial.epoch, partial.stopReason], [2, 'stop-after-epoch']);
  const run = RunDirectory.open(join(dir, 'resumed'));
  const resumed = await new SupervisedTrainer(validateConfig(run.readConfig()), { run, resume: true }).run();
  assert.deepEqual([resumed.epoch, resumed.step, resumed.stopReason], [4, 12, 'completed']);
  assert.equal(memory().liveTensors, before, 'runs free their caches, models and optimizer state');

  const a = readCheckpoint(join(dir, 'straight', 'last.pth')), b = readCheckpoint(join(dir, 'resumed', 'last.pth'));
  for (const [k, w] of a.models.student!) assert.ok(sameBits(w.float(), b.models.student!.get(k)!.float()), `weight ${k} differs`);
  const stateA = a.optimizers.student!.state as unknown as Map<number, Record<string, Tensor>>;
  const stateB = b.optimizers.student!.state as unknown as Map<number, Record<string, Tensor>>;
  for (const [i, s] of stateA) assert.ok(sameBits(s.exp_avg_sq!, stateB.get(i)!.exp_avg_sq!), `AdamW state ${i} differs`);
  assert.deepEqual(b.best, a.best);
  disposeCheckpoint(a);
  disposeCheckpoint(b);
  assert.deepEqual(metricsWithoutTiming(join(dir, 'resumed', 'metrics.jsonl')), metricsWithoutTiming(join(dir, 'straight', 'metrics.jsonl')));
});

test('checkpoint contents: format, method, config, state dicts, rng streams, preprocessing; last and best', async (t) => {
  const { dir, data } = await setupData(t);
  const cfg = buildConfig(quickConfig({ epochs: 1 }), { method: 'supervised', data: [data] });
  await new SupervisedTrainer(cfg, { run: RunDirectory.create(join(dir, 'run')) }).run();
  assert.ok(existsSync(join(dir, 'run', 'best.pth')), 'the first validation is a new best');
  const c = readCheckpoint(join(dir, 'run', 'last.pth'));
  assert.equal(c.method, 'supervised');
  assert.deepEqual([c.epoch, c.step], [1, 3]);
  assert.deepEqual(Object.keys(c.models), ['student']);
  assert.equal(c.models.student!.get('head.weight')!.shape.join(), '1,4,1,1');
  for (const k of ['global', 'data', 'augment']) assert.equal(c.rng[k]!.dtype, 'uint8', `rng.${k}`);
  assert.deepEqual(c.preprocessing.size, [32, 32]);
  assert.equal((c.config as unknown as ResolvedConfig).model.inChannels, 3);
  assert.equal(c.best.metric, 'valDice');
  disposeCheckpoint(c);
  const plain = join(dir, 'plain.pth');
  const net = buildUNet({ spatialDims: 2, inChannels: 1, outChannels: 1, widths: [2] });
  saveCheckpoint(plain, net.stateDict());
  net.dispose();
  assert.throws(() => readCheckpoint(plain), (e: Error) => e instanceof NotACheckpointError && /is not a samtutor checkpoint \(no format 'samtutor-checkpoint'; is it a plain state_dict\?\)/.test(e.message));
});

test('PyTorch loads best.pth: strict load_state_dict into reference_unet build_unet, same logits, AdamW state', async (t) => {
  if (skipWithoutTorch(t)) return;
  const { dir, data } = await setupData(t);
  await new SupervisedTrainer(buildConfig(quickConfig({ epochs: 1, model: { widths: [4, 8, 16], convsPerLevel: 2 } }), { method: 'supervised', data: [data] }), { run: RunDirectory.create(join(dir, 'run')) }).run();
  const path = join(dir, 'run', 'best.pth');
  const c = readCheckpoint(path);
  const net = buildUNet({ ...(c.config as unknown as ResolvedConfig).model, arch: 'unet' });
  net.loadStateDict(c.models.student!);
  net.eval();
  disposeCheckpoint(c);
  const x = randn([2, 3, 32, 32]);
  const ours = net.forward(x);
  const { tensors, result } = runTorch<{ keys: string[]; format: string; groups: number; epoch: number }>(String.raw`
from reference_unet import build_unet
ck = torch.load(META['path'])
net = build_unet(ck['config']['model'])
net.load_state_dict(ck['models']['student'], strict=True)
net.eval()
with torch.no_grad():
    OUT['logits'] = net(IN['x'])
opt = torch.optim.AdamW(net.parameters(), lr=1.0)
opt.load_state_dict(ck['optimizers']['student'])
RESULT = {'keys': sorted(ck.keys()), 'format': ck['format'], 'groups': len(opt.param_groups), 'epoch': ck['epoch']}
`, { tensors: { x }, meta: { path } });
  assert.equal(result.format, 'samtutor-checkpoint');
  assert.deepEqual(result.keys, ['best', 'config', 'epoch', 'extra', 'format', 'method', 'models', 'optimizers', 'preprocessing', 'rng', 'schedulers', 'step', 'trainingSeconds', 'version']);
  assert.equal(result.groups, 1);
  const theirs = tensors.get('logits')!;
  const maxDiff = ours.sub(theirs).abs().max();
  assert.ok(maxDiff.item() < 1e-4, `logits differ by ${maxDiff.item()}`);
  dispose([x, ours, theirs, maxDiff]);
  net.dispose();
});

test('time budget: the run stops after the epoch in which the budget ran out, resumable; resume may extend epochs', async (t) => {
  const { dir, data } = await setupData(t);
  const cfg = buildConfig(quickConfig({ epochs: 3, timeBudget: 1e-6 }), { method: 'supervised', data: [data] });
  const first = await new SupervisedTrainer(cfg, { run: RunDirectory.create(join(dir, 'run')) }).run();
  assert.deepEqual([first.epoch, first.stopReason], [1, 'time-budget']);
  assert.ok(first.trainingSeconds > 0);
  const run = RunDirectory.open(join(dir, 'run'));
  const more = await new SupervisedTrainer({ ...validateConfig(run.readConfig()), epochs: 5, timeBudget: null }, { run, resume: true }).run();
  assert.deepEqual([more.epoch, more.stopReason], [5, 'completed']);
  const lines = metricsWithoutTiming(run.metrics);
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3, 4, 5]);
  assert.equal(lines[4]!.lr, 0, 'the poly schedule was stretched to the new length and ends at 0');
  assert.ok(more.trainingSeconds > first.trainingSeconds, 'training time accumulates over sessions');
});

test('a resumed run checks its checkpoint belongs to the method', async (t) => {
  const { dir } = await setupData(t);
  const run = RunDirectory.create(join(dir, 'r'));
  saveCheckpoint(run.last, { format: 'samtutor-checkpoint', version: 2, weights: tensor([1]) });
  assert.throws(() => readCheckpoint(run.last), /samtutor checkpoint of version 2; this samtutor reads version 1/);
  assert.throws(() => RunDirectory.open(join(dir, 'missing')), /cannot resume: run directory .* does not exist/);
  assert.throws(() => RunDirectory.create(join(dir, 'r')), /already exists; pass --resume to continue it or choose another --out/);
});
