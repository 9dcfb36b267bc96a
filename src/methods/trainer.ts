// The one trainer every method shares, nnU-Net style: run() is a short loop over small hooks, and a method is a
// subclass that overrides hooks only (supervised.ts is the example).
//
//   buildModels()      → named modules, e.g. { student }           (MuGu: { teacher, student })
//   buildOptimizers()  → one per model with trainable parameters   (SC-SAM: { unet, sam } with their own lr)
//   buildSchedulers()  → one per optimizer, from config.schedule
//   prepareData()      → split, cached cases, resolved config      (SC-SAM: labeled subset + unlabeled cache)
//   buildLoss() / buildAugmentation()
//   nextBatches(order) → named batches for one step: { labeled }   (SC-SAM adds { unlabeled })
//   trainStep(batches) → plain numbers { loss, ... } (forward, backward, stepOptimizers())
//   validationStep(b)  → per-case scores; inferenceLogits() says which model predicts
//   onEpochEnd(record) → metrics.jsonl, last.pth / best.pth, the reporter (curves, progress)
//   extraState() / loadExtraState() → method state beyond models, optimizers and schedulers (EMA, queues)
//
// How the later methods plug in (one file each, hooks only):
// - MuGu: buildModels() → { teacher: frozen SAM (requiresGrad false, eval), student: DualHeadUNet }; the default
//   buildOptimizers() skips the teacher (no trainable parameters) and savedModels() leaves it out of checkpoints;
//   trainStep() runs the teacher under noGrad and trains the fg / bg heads; static buildInference() maps the dual
//   head to logits for predict.
// - SC-SAM: buildModels() → { unet, sam } (adapter SAM: only adapters trainable); buildOptimizers() → two
//   optimizers; prepareData() calls prepareRunData(..., { labeled: methodOptions.labeled }) (split.json keeps
//   the subset) and caches split.unlabeled; nextBatches() adds an unlabeled stream; trainStep() does both
//   supervised losses and the two-way pseudo-label terms.
// - ESP-MedSAM: several --data folders (Batch.sources tags each case's folder / modality); buildModels() →
//   { teacher, student }; trainStep() distils; validation and predict use the student.
import { Generator, autocast, manualSeed, setNumThreads, tidy, type Tensor } from '../engine/index.ts';
import type { Module } from '../nn/index.ts';
import { buildUNet, type UNet } from '../models/unet/index.ts';
import { type Compose, strongAugment, weakAugment } from '../data/transforms/index.ts';
import { type Batch, epochOrder, makeBatch } from './batches.ts';
import { disposeCache } from './cache.ts';
import type { BestRecord } from './checkpoint.ts';
import { ConfigError, type TrainConfig } from './config.ts';
import type { LogitsFn } from './inference.ts';
import { type SegmentationLoss, buildLoss } from './loss.ts';
import { buildOptimizer, buildScheduler, type OptimizerLike, type SchedulerLike } from './optimizers.ts';
import { type TrainingParts, restoreTraining, saveTraining } from './trainingState.ts';
import type { ResolvedConfig } from './resolve.ts';
import type { EpochRecord, RunDirectory } from './runDir.ts';
import { type RunData, prepareRunData } from './setup.ts';
import { type CaseScore, type ValidationBatch, batchRanges, scoreCases, summarizeScores, validationBatch } from './validation.ts';

/** Progress and results for a user interface (the CLI's progress bar and curves.png). */
export interface TrainerReporter {
  start?(info: { method: string; config: ResolvedConfig; startEpoch: number; trainCases: number; valCases: number; run: RunDirectory }): void;
  step?(info: { epoch: number; iteration: number; iterations: number; terms: Record<string, number> }): void;
  epochEnd?(record: EpochRecord, history: EpochRecord[], run: RunDirectory): void | Promise<void>;
}

export interface TrainerOptions {
  run: RunDirectory;
  /** Continue from run.last (the config must be the run's config.json; only epochs and timeBudget may differ). */
  resume?: boolean;
  reporter?: TrainerReporter;
}

export type StopReason = 'completed' | 'time-budget' | 'stop-after-epoch';

export interface RunSummary {
  epoch: number;
  step: number;
  best: BestRecord;
  stopReason: StopReason;
  trainingSeconds: number;
}

/** A model ready for prediction, rebuilt from a checkpoint. */
export interface InferenceModel {
  logits: LogitsFn;
  dispose(): void;
}

export abstract class Trainer {
  /** The registry name, recorded in checkpoints. */
  static readonly methodName: string = 'trainer';
  protected cfg!: ResolvedConfig;
  protected runData!: RunData;
  protected models: Record<string, Module> = {};
  protected optimizers: Record<string, OptimizerLike> = {};
  protected schedulers: Record<string, SchedulerLike> = {};
  protected loss!: SegmentationLoss;
  protected augment: Compose | null = null;
  protected dataGenerator!: Generator;
  protected augmentGenerator!: Generator;
  epoch = 0;
  step = 0;
  best: BestRecord = { metric: 'valDice', value: null, epoch: null };
  trainingSeconds = 0;
  history: EpochRecord[] = [];

  constructor(protected readonly input: TrainConfig, protected readonly o: TrainerOptions) {
    (this.constructor as typeof Trainer).checkMethodOptions(input.methodOptions);
  }

  /** Methods with options override this to validate config.methodOptions. */
  static checkMethodOptions(options: Record<string, unknown>): void {
    const keys = Object.keys(options);
    if (keys.length) throw new ConfigError(`method ${this.methodName} takes no methodOptions (received ${keys.join(', ')})`);
  }

  get methodName(): string {
    return (this.constructor as typeof Trainer).methodName;
  }

  // ---- hooks ----

  protected abstract buildModels(): Record<string, Module>;
  protected abstract trainStep(batches: Record<string, Batch>): Record<string, number>;

  /** One optimizer per model that has trainable parameters, as the config says. */
  protected buildOptimizers(): Record<string, OptimizerLike> {
    const out: Record<string, OptimizerLike> = {};
    for (const [name, m] of Object.entries(this.models)) {
      const params = m.parameters().filter((p) => p.requiresGrad);
      if (params.length) out[name] = buildOptimizer(params, this.cfg);
    }
    return out;
  }

  protected buildSchedulers(): Record<string, SchedulerLike> {
    return Object.fromEntries(Object.entries(this.optimizers).map(([k, opt]) => [k, buildScheduler(opt, this.cfg)]));
  }

  protected buildLoss(): SegmentationLoss {
    return buildLoss(this.cfg.loss, this.runData.prep.outChannels);
  }

  protected buildAugmentation(generator: Generator): Compose | null {
    if (this.cfg.augment === 'none') return null;
    return this.cfg.augment === 'weak' ? weakAugment({ generator }) : strongAugment({ generator });
  }

  /** The batches of one step, named by stream; the default has one labeled stream over the training cases. */
  protected nextBatches(indices: number[]): Record<string, Batch> {
    const { prep, train } = this.runData;
    return { labeled: makeBatch(train, indices, { patchSize: prep.size, foregroundProb: this.cfg.foregroundProb, generator: this.dataGenerator, augment: this.augment }) };
  }

  /** Data setup (split, caches, resolved config); SC-SAM passes { labeled } and caches its unlabeled ids too. */
  protected prepareData(): Promise<RunData> {
    return prepareRunData(this.input, this.o.run);
  }

  /** Which model predicts in validation (and, via buildInference, in predict): the student by default. */
  protected inferenceLogits(): LogitsFn {
    const student = this.models.student as UNet;
    return (x) => student.forward(x);
  }

  /** Per-case Dice (and HD95) of one validation batch, at the model's resolution (2D) or the volume's (3D). */
  protected validationStep(batch: ValidationBatch): CaseScore[] {
    return scoreCases(this.inferenceLogits(), batch, this.runData.prep, { bf16: this.cfg.bf16, hd95: this.cfg.valHd95 });
  }

  /** Models written to checkpoints: all but frozen ones (no trainable parameters, e.g. a SAM teacher). */
  protected savedModels(): string[] {
    return Object.keys(this.models).filter((k) => this.models[k]!.parameters().some((p) => p.requiresGrad));
  }

  protected extraState(): Record<string, unknown> {
    return {};
  }

  protected loadExtraState(_extra: Record<string, unknown>): void {}

  /** Rebuilds the predicting model from a checkpoint's config and weights (predict). */
  static buildInference(config: ResolvedConfig, models: Record<string, Map<string, Tensor>>): InferenceModel {
    if (config.model.arch !== 'unet') throw new Error(`method ${this.methodName} predicts with a plain U-Net, not ${config.model.arch}`);
    const net = buildUNet({ ...config.model, arch: 'unet' });
    if (!models.student) throw new Error('the checkpoint has no student model');
    net.loadStateDict(models.student);
    net.eval();
    return { logits: (x) => net.forward(x), dispose: () => net.dispose() };
  }

  // ---- helpers for trainStep ----

  /** fn under bf16 autocast when config.bf16, with float32 logits out; optimizer steps stay outside. */
  protected forward(fn: () => Tensor): Tensor {
    return this.cfg.bf16 ? autocast(fn).float() : fn();
  }

  protected zeroGrad(): void {
    for (const opt of Object.values(this.optimizers)) opt.zeroGrad();
  }

  /** Steps the named optimizers (default all) and their schedulers. */
  protected stepOptimizers(names: string[] = Object.keys(this.optimizers)): void {
    for (const k of names) {
      this.optimizers[k]!.step();
      this.schedulers[k]?.step();
    }
  }

  // ---- the loop ----

  async run(opts: { stopAfterEpoch?: number } = {}): Promise<RunSummary> {
    await this.setup();
    const sessionStart = performance.now();
    let stopReason: StopReason | null = null;
    while (this.epoch < this.cfg.epochs && stopReason === null) {
      const started = performance.now();
      const train = await this.trainEpoch();
      const val = this.validationDue() ? this.validate() : null;
      this.epoch++;
      await this.onEpochEnd(this.epochRecord(train, val, started));
      stopReason = this.earlyStop(sessionStart, opts.stopAfterEpoch);
    }
    this.dispose();
    return { epoch: this.epoch, step: this.step, best: { ...this.best }, stopReason: stopReason ?? 'completed', trainingSeconds: this.trainingSeconds };
  }

  /** Validation runs every valEvery epochs and after the last one. */
  protected validationDue(): boolean {
    const next = this.epoch + 1;
    return this.runData.val !== null && (next % this.cfg.valEvery === 0 || next === this.cfg.epochs);
  }

  /** Why to stop before the configured epochs: the session's time budget is spent, or the caller asked. */
  protected earlyStop(sessionStart: number, stopAfterEpoch: number | undefined): StopReason | null {
    if (this.epoch >= this.cfg.epochs) return null;
    if (stopAfterEpoch !== undefined && this.epoch >= stopAfterEpoch) return 'stop-after-epoch';
    if (this.cfg.timeBudget !== null && (performance.now() - sessionStart) / 60000 >= this.cfg.timeBudget) return 'time-budget';
    return null;
  }

  protected async trainEpoch(): Promise<{ terms: Record<string, number>; samples: number; seconds: number }> {
    for (const m of Object.values(this.models)) m.train(m.parameters().some((p) => p.requiresGrad));
    const { iterationsPerEpoch: iterations, batch } = this.cfg;
    const order = epochOrder(this.runData.train.ids.length, iterations * batch, this.dataGenerator);
    const sums: Record<string, number> = {};
    const t0 = performance.now();
    for (let it = 0; it < iterations; it++) {
      const terms = tidy(() => this.trainStep(this.nextBatches(order.slice(it * batch, (it + 1) * batch))));
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
      this.step++;
      this.o.reporter?.step?.({ epoch: this.epoch, iteration: it + 1, iterations, terms });
      await new Promise<void>((r) => setImmediate(r)); // lets timers and signals run between steps
    }
    const means = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / iterations]));
    return { terms: means, samples: iterations * batch, seconds: (performance.now() - t0) / 1000 };
  }

  protected validate(): { dice: number | null; hd95: number | null; cases: number } {
    for (const m of Object.values(this.models)) m.eval();
    const scores: CaseScore[] = [];
    const val = this.runData.val!;
    for (const [start, count] of batchRanges(val, this.cfg.batch)) scores.push(...tidy(() => this.validationStep(validationBatch(val, start, count))));
    return summarizeScores(scores);
  }

  protected epochRecord(train: Awaited<ReturnType<Trainer['trainEpoch']>>, val: ReturnType<Trainer['validate']> | null, started: number): EpochRecord {
    const epochSeconds = (performance.now() - started) / 1000;
    this.trainingSeconds += epochSeconds;
    // trainLoss, then each term as a loss (trainDiceLoss is 1 − soft Dice, not a Dice score).
    const terms = Object.fromEntries(Object.entries(train.terms).map(([k, v]) => [`train${k[0]!.toUpperCase()}${k.slice(1)}${k === 'loss' ? '' : 'Loss'}`, v]));
    const lrs = Object.entries(this.optimizers).map(([k, opt]) => [Object.keys(this.optimizers).length === 1 ? 'lr' : `lr_${k}`, opt.paramGroups[0]!.lr]);
    return {
      epoch: this.epoch, step: this.step, ...terms, valDice: val?.dice ?? null, valHd95: val?.hd95 ?? null, valCases: val?.cases ?? 0,
      ...Object.fromEntries(lrs), epochSeconds, trainingSeconds: this.trainingSeconds, imagesPerSecond: train.samples / train.seconds,
    };
  }

  /** Checkpoints (last.pth every epoch, best.pth on a new best validation Dice), metrics line, reporter. */
  protected async onEpochEnd(record: EpochRecord): Promise<void> {
    const dice = record.valDice;
    const improved = typeof dice === 'number' && (this.best.value === null || dice > this.best.value);
    if (improved) this.best = { metric: 'valDice', value: dice, epoch: this.epoch };
    this.saveCheckpoint(this.o.run.last);
    if (improved) this.saveCheckpoint(this.o.run.best);
    this.o.run.appendMetrics(record);
    this.history.push(record);
    await this.o.reporter?.epochEnd?.(record, this.history, this.o.run);
  }

  // ---- setup, checkpoints ----

  protected async setup(): Promise<void> {
    if (this.input.threads !== null) setNumThreads(this.input.threads);
    this.runData = await this.prepareData();
    this.cfg = this.runData.config;
    manualSeed(this.cfg.seed);
    this.dataGenerator = new Generator(this.cfg.seed + 1);
    this.augmentGenerator = new Generator(this.cfg.seed + 2);
    this.augment = this.buildAugmentation(this.augmentGenerator);
    this.models = this.buildModels();
    this.optimizers = this.buildOptimizers();
    this.schedulers = this.buildSchedulers();
    this.loss = this.buildLoss();
    if (this.o.resume) this.loadCheckpoint(this.o.run.last);
    this.history = this.o.run.truncateMetrics(this.epoch);
    this.o.reporter?.start?.({
      method: this.methodName, config: this.cfg, startEpoch: this.epoch, trainCases: this.runData.train.ids.length, valCases: this.runData.val?.ids.length ?? 0, run: this.o.run,
    });
  }

  /** The live parts checkpoints capture. */
  protected trainingParts(): TrainingParts {
    return {
      method: this.methodName, config: this.cfg, prep: this.runData.prep, optimizers: this.optimizers, schedulers: this.schedulers,
      models: Object.fromEntries(this.savedModels().map((k) => [k, this.models[k]!])), generators: { data: this.dataGenerator, augment: this.augmentGenerator },
    };
  }

  protected saveCheckpoint(path: string): void {
    saveTraining(path, this.trainingParts(), { epoch: this.epoch, step: this.step, best: this.best, trainingSeconds: this.trainingSeconds, extra: this.extraState() });
  }

  protected loadCheckpoint(path: string): void {
    const p = restoreTraining(path, this.trainingParts());
    Object.assign(this, { epoch: p.epoch, step: p.step, best: p.best, trainingSeconds: p.trainingSeconds });
    this.loadExtraState(p.extra);
  }

  /** Frees the caches, models and optimizer state. */
  dispose(): void {
    disposeCache(this.runData?.train);
    disposeCache(this.runData?.val);
    for (const opt of Object.values(this.optimizers)) opt.dispose();
    for (const m of Object.values(this.models)) m.dispose();
  }
}
