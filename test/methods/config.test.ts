// Config merging (defaults ← file ← flags), validation messages, automatic fields, the method registry and the
// configured loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispose, randint, randn, tidy } from '../../src/engine/index.ts';
import {
  ConfigError, DEFAULTS, METHODS, autoPatchSize, buildConfig, buildLoss, methodClass, mergeConfig, resolveConfig, resolvePreprocessing,
  SupervisedTrainer, validateConfig, type TrainConfig, type TrainingData,
} from '../../src/methods/index.ts';

const base = { method: 'supervised', data: ['../shared/data/polyp-kvasir-256'] };

test('mergeConfig: flags override the file, the file overrides defaults; nested objects merge key by key', () => {
  const file = { epochs: 7, lr: 0.01, model: { widths: [8, 16] }, loss: { name: 'dice', boundary: { radius: 2, weight: 3, sigma: null } } };
  const flags = { ...base, lr: 0.02, size: undefined };
  const c = buildConfig(file, flags);
  assert.equal(c.epochs, 7);
  assert.equal(c.lr, 0.02, 'flag wins over file');
  assert.equal(c.size, null, 'an undefined flag does not override');
  assert.deepEqual(c.model.widths, [8, 16]);
  assert.equal(c.model.norm, DEFAULTS.model.norm, 'nested defaults survive a partial model block');
  assert.equal(c.loss.name, 'dice');
  assert.equal(c.loss.lambdaCE, 1);
  assert.deepEqual(mergeConfig({ a: { x: 1, y: 2 } }, { a: { y: 3 } }), { a: { x: 1, y: 3 } });
});

test('validateConfig: unknown keys and bad values fail with sharp-style messages', () => {
  const bad = (extra: Record<string, unknown>) => (): TrainConfig => buildConfig(extra, base);
  assert.throws(bad({ epoch: 3 }), /unknown config key "epoch" \(known: method, data, model, /);
  assert.throws(bad({ epochs: 0 }), /^ConfigError: Expected integer >= 1 for epochs but received 0 of type number$/);
  assert.throws(bad({ lr: -1 }), /Expected number > 0 for lr but received -1/);
  assert.throws(bad({ optimizer: 'lion' }), /Expected one of adamw, adam, sgd for optimizer but received lion of type string/);
  assert.throws(bad({ model: { widht: [4] } }), /unknown key "model.widht"/);
  assert.throws(bad({ loss: { gamma: -2 } }), /Expected number >= 0 for loss.gamma/);
  assert.throws(bad({ patchSize: [32, 32] }), /a list of 3 integers >= 8 for patchSize/);
  assert.throws(bad({ valFraction: 0.6, testFraction: 0.5 }), /must leave training cases/);
  assert.throws(() => validateConfig({ ...DEFAULTS, method: 'supervised' }), /config is missing "data"/);
  assert.throws(() => buildConfig({}, { ...base, data: [] }), /Expected a non-empty list of dataset folders for data/);
});

test('registry: known methods by name; an unknown name lists the valid ones', () => {
  assert.equal(methodClass('supervised'), SupervisedTrainer);
  assert.ok(Object.isFrozen(METHODS));
  assert.throws(() => methodClass('mugu-typo'), (e: Error) => e instanceof ConfigError && e.message === 'unknown method "mugu-typo" (valid: supervised, teacher)');
  assert.throws(() => methodClass('toString'), /unknown method "toString"/, 'inherited object keys are not methods');
  assert.throws(() => new SupervisedTrainer(buildConfig({ methodOptions: { ema: 0.99 } }, base), { run: null as never }), /method supervised takes no methodOptions \(received ema\)/);
});

const data2d: TrainingData = { dims: 2, datasets: [], cases: new Map(), labels: { 0: 'background', 1: 'polyp' }, numClasses: 2 };

test('resolution: 2D defaults, size multiples, derived model channels, iterations per epoch', () => {
  const cfg: TrainConfig = buildConfig({}, base);
  const prep = resolvePreprocessing(cfg, data2d, { channels: 3, bitDepth: 8, shape: [500, 600] });
  assert.deepEqual(prep.size, [256, 256]);
  assert.equal(prep.storage, 'uint8');
  assert.equal(prep.outChannels, 1, 'binary data: one sigmoid channel');
  const r = resolveConfig(cfg, prep, 100);
  assert.equal(r.batch, 8);
  assert.equal(r.iterationsPerEpoch, 12, 'one pass: floor(100 / 8)');
  assert.deepEqual([r.model.spatialDims, r.model.inChannels, r.model.outChannels], [2, 3, 1]);
  assert.equal(r.channels, 3);
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(r))), JSON.parse(JSON.stringify(r)), 'a resolved config validates as it is');
  assert.throws(() => resolvePreprocessing(buildConfig({ size: 100 }, base), data2d, { channels: 3, bitDepth: 8, shape: [9, 9] }), /Expected a multiple of 8 for size \(the U-Net halves it 3 times\) but received 100/);
  const multi = resolvePreprocessing(cfg, { ...data2d, labels: { 0: 'bg', 1: 'a', 2: 'b' }, numClasses: 3 }, { channels: 1, bitDepth: 16, shape: [9, 9] });
  assert.equal(multi.outChannels, 3);
  assert.equal(multi.storage, 'float32', '16-bit sources are kept as float32');
  assert.throws(() => resolveConfig(buildConfig({ model: { inChannels: 1 } }, base), prep, 10), /model.inChannels is 1 but the data needs 3/);
});

test('autoPatchSize: median shape rounded up to the U-Net multiple, capped at 128 (nnU-Net Hippocampus: 40x56x40)', () => {
  const shapes = [[36, 50, 35], [34, 52, 36], [38, 49, 33], [35, 51, 37]];
  assert.deepEqual(autoPatchSize(shapes, 8), [40, 56, 40]);
  assert.deepEqual(autoPatchSize([[300, 5, 130]], 8), [128, 8, 128]);
});

test('buildLoss: the configured terms come back by name; binary logits get BCE', () => {
  const cfg = buildConfig({}, base);
  tidy(() => {
    const logits = randn([2, 1, 8, 8]);
    const mask = randint(0, 2, [2, 8, 8], { dtype: 'uint8' });
    const terms = buildLoss(cfg.loss, 1)(logits, mask);
    assert.deepEqual(Object.keys(terms).sort(), ['ce', 'dice', 'loss']);
    assert.ok(Math.abs(terms.loss!.item() - terms.dice!.item() - terms.ce!.item()) < 1e-6);
    const focal = buildLoss({ ...cfg.loss, name: 'dice-focal', lambdaCE: 2 }, 3)(randn([2, 3, 8, 8]), randint(0, 3, [2, 8, 8]));
    assert.ok(Math.abs(focal.loss!.item() - focal.dice!.item() - 2 * focal.focal!.item()) < 1e-6);
    const boundary = buildLoss({ ...cfg.loss, name: 'ce', boundary: { radius: 2, weight: 4, sigma: null } }, 1)(logits, mask);
    assert.ok(boundary.loss!.item() > buildLoss({ ...cfg.loss, name: 'ce' }, 1)(logits, mask).loss!.item(), 'boundary weights ≥ 1 raise the loss');
    dispose(terms);
  });
  assert.throws(() => buildLoss({ ...cfg.loss, alpha: [0.5, 0.5] }, 1), /loss.alpha must be one number for binary segmentation/);
});
