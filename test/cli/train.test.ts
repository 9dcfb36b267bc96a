// `samtutor train` end to end through the CLI (node bin/samtutor.js) on a tiny synthetic 2D dataset: the run
// directory, refusing to overwrite, --resume after a --time-budget stop (bit-identical to a straight run), and
// one-line exit-2 errors for bad flags and paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint, disposeCheckpoint } from '../../src/methods/index.ts';
import { runTrain, type TrainOptions } from '../../src/cli/train.ts';
import { UsageError } from '../../src/cli/usage.ts';
import { makeDataset2d, quickConfig, samtutor, tempDir, useOneThread } from '../methods/helpers.ts';

useOneThread();

const oneLine = (s: string): boolean => s.trim().split('\n').length === 1;

test('samtutor train: run directory, resume after a time-budget stop equals a straight run, refuses to overwrite', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-train-');
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 8);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify(quickConfig({ augment: 'strong' })));
  const common = ['--method', 'supervised', '--data', join(dir, 'data'), '--config', config, '--epochs', '3'];

  const straight = samtutor(['train', ...common, '--out', join(dir, 'straight')]);
  assert.equal(straight.status, 0, straight.stderr);
  assert.match(straight.stdout, /^samtutor train: supervised, 6 training \/ 2 validation cases, 2D 32px, batch 2, 3 iterations\/epoch, new run/);
  assert.match(straight.stdout, /epoch 3\/3 loss \d\.\d{4} valDice \d\.\d{4} /);
  for (const f of ['config.json', 'split.json', 'last.pth', 'best.pth', 'metrics.jsonl', 'curves.png']) assert.ok(existsSync(join(dir, 'straight', f)), f);
  assert.deepEqual([...readFileSync(join(dir, 'straight', 'curves.png')).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  const lines = readFileSync(join(dir, 'straight', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3]);
  for (const k of ['step', 'trainLoss', 'trainDiceLoss', 'trainCeLoss', 'valDice', 'lr', 'epochSeconds', 'imagesPerSecond']) assert.equal(typeof lines[0]![k], 'number', k);
  const saved = JSON.parse(readFileSync(join(dir, 'straight', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(saved.epochs, 3, 'flags override the config file');
  assert.equal(saved.augment, 'strong');

  // A tiny budget stops after the first epoch; --resume finishes the run exactly as the straight run did.
  const budget = samtutor(['train', ...common, '--out', join(dir, 'resumed'), '--time-budget', '0.00001']);
  assert.equal(budget.status, 0, budget.stderr);
  assert.match(budget.stdout, /done: 1 epochs, 3 steps, .*\(time budget reached; --resume continues\)/);
  const resumed = samtutor(['train', '--method', 'supervised', '--data', join(dir, 'data'), '--out', join(dir, 'resumed'), '--resume', '--epochs', '3']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming after epoch 1/);
  const a = readCheckpoint(join(dir, 'straight', 'last.pth')), b = readCheckpoint(join(dir, 'resumed', 'last.pth'));
  for (const [k, w] of a.models.student!) assert.ok(w.sub(b.models.student!.get(k)!).abs().max().item() === 0, `weight ${k} differs after resume`);
  disposeCheckpoint(a);
  disposeCheckpoint(b);

  const again = samtutor(['train', ...common, '--out', join(dir, 'straight')]);
  assert.equal(again.status, 2);
  assert.ok(oneLine(again.stderr), again.stderr);
  assert.match(again.stderr, /^samtutor: run directory .*straight already exists; pass --resume to continue it or choose another --out\n$/);
});

test('samtutor train: bad flags and paths exit 2 with one line and leave no run directory behind', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-train-');
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 4);
  const cases: [string[], RegExp][] = [
    [['--method', 'nope', '--data', join(dir, 'data')], /^samtutor: unknown method "nope" \(valid: supervised, teacher\)$/],
    [['--method', 'supervised', '--data', join(dir, 'missing')], /^samtutor: dataset folder not found: .*missing$/],
    [['--method', 'supervised', '--data', join(dir, 'data'), '--lr', 'fast'], /^samtutor: error: option '--lr <x>' argument 'fast' is invalid/],
  ];
  for (const [args, message] of cases) {
    const out = join(dir, 'run');
    const r = samtutor(['train', ...args, '--out', out]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr.trim(), message);
    assert.equal(existsSync(out), false, `${args.join(' ')} left ${out} behind`);
  }
});

test('runTrain: config and resume mistakes are usage errors (exit 2) and leave nothing behind', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-train-');
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 4);
  const badConfig = join(dir, 'bad.json');
  writeFileSync(badConfig, JSON.stringify({ epochz: 3 }));
  const out = join(dir, 'run');
  const base = { method: 'supervised', data: [join(dir, 'data')], out };
  const cases: [Partial<TrainOptions>, RegExp][] = [
    [{ epochs: 0 }, /^Expected integer >= 1 for epochs but received 0 of type number$/],
    [{ size: 30 }, /^Expected a multiple of 8 for size \(the U-Net halves it 3 times\) but received 30$/],
    [{ config: badConfig }, /^unknown config key "epochz"/],
    [{ config: join(dir, 'none.json') }, /^cannot read config file .*none.json: ENOENT/],
    [{ resume: true }, /^cannot resume: run directory .* does not exist$/],
  ];
  for (const [extra, message] of cases) {
    await assert.rejects(runTrain({ ...base, ...extra }), (e: Error) => e instanceof UsageError && message.test(e.message), JSON.stringify(extra));
    assert.equal(existsSync(out), false, `${JSON.stringify(extra)} left ${out} behind`);
  }
  writeFileSync(join(dir, 'quick.json'), JSON.stringify(quickConfig({ epochs: 1 })));
  await runTrain({ ...base, config: join(dir, 'quick.json') });
  const usage = (re: RegExp) => (e: Error): boolean => e instanceof UsageError && re.test(e.message);
  await assert.rejects(runTrain({ ...base, resume: true, lr: 0.5 }), usage(/^--lr cannot change when resuming \(the run has 0.01\)$/));
  await assert.rejects(runTrain({ ...base, resume: true, config: badConfig }), usage(/--config cannot be combined with --resume/));
  await assert.rejects(runTrain({ ...base, data: [join(dir, 'missing')], resume: true }), usage(/--data differs from the run's data/));
});
