// The training config: one plain JSON object, merged from DEFAULTS ← a --config file ← command-line flags,
// validated (unknown keys are errors, so typos do not pass silently), resolved against the data (resolve.ts) and
// saved as <run-dir>/config.json. Fields set to null are chosen from the data at resolution.
//
// Schedule: 'poly' by default, as nnU-Net (lr · (1 − step/total)^0.9), stepped every iteration rather than every
// epoch (the same curve, without steps); 'cosine' warms up linearly for warmupEpochs, then decays to 0.
// Optimizer: AdamW (lr 1e-3, weight decay 1e-4) by default: it trains the small students well from scratch at
// the batch sizes a CPU affords; nnU-Net's SGD (momentum 0.99, Nesterov) is 'sgd' with lr 1e-2.
import { CONFIG_CHECKS, ConfigError, checkObject } from './configChecks.ts';

export { ConfigError } from './configChecks.ts';

export type LossName = 'dice-ce' | 'dice' | 'ce' | 'focal' | 'dice-focal';

export interface LossConfig {
  /** dice-ce: soft Dice + cross-entropy (BCE for one output channel), nnU-Net's and MONAI's default. */
  name: LossName;
  /** Dice over the whole batch per class (nnU-Net batch_dice) rather than per image. */
  batchDice: boolean;
  /** Count the background class in the Dice mean (multi-class only). */
  includeBackground: boolean;
  smooth: number;
  lambdaDice: number;
  lambdaCE: number;
  /** Focal γ and α (binary: one number; multi-class: one per class), for focal and dice-focal. */
  gamma: number;
  alpha: number | number[] | null;
  /** Boundary-aware pixel weights on the CE / BCE term, or null for none. */
  boundary: { radius: number; weight: number; sigma: number | null } | null;
}

export interface ModelConfig {
  /** Channels per level, shallow to deep (SMALL_UNET_2D: [16, 32, 64, 128]). */
  widths: number[];
  norm: 'batch' | 'instance' | 'group' | 'none';
  groups: number;
  dropout: number;
  upsample: 'transpose' | 'interpolate';
  convsPerLevel: number;
  /** Derived from the data; given values must match it. */
  arch?: 'unet' | 'dual-head-unet';
  spatialDims?: 2 | 3;
  inChannels?: number;
  outChannels?: number;
}

export interface TrainConfig {
  method: string;
  /** Dataset folders (as given; relative paths are relative to the working directory). All of one dimensionality. */
  data: string[];
  model: ModelConfig;
  /** 2D: the model's input side (images are resized to size × size). 3D: the cubic patch side unless patchSize. null: 256 (2D). */
  size: number | null;
  /** 3D patch [D, H, W]; null: the median case shape rounded up to the U-Net's multiple, at most 128 (nnU-Net-like). */
  patchSize: number[] | null;
  /** 2D image channels: 'auto' takes the first training image's (grey 1, colour 3). */
  channels: 'auto' | 1 | 3;
  /** unit: 8/16-bit samples scaled to [0, 1] (2D default); zscore: per-image, per-channel (3D default, nnU-Net). */
  normalization: 'auto' | 'unit' | 'zscore';
  epochs: number;
  /** Iterations per epoch; null: one pass over the training cases (floor(cases / batch), at least 1). */
  iterationsPerEpoch: number | null;
  /** Batch size; null: 8 (2D) or 2 (3D). */
  batch: number | null;
  optimizer: 'adamw' | 'adam' | 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: 'poly' | 'cosine' | 'constant';
  warmupEpochs: number;
  loss: LossConfig;
  augment: 'none' | 'weak' | 'strong';
  bf16: boolean;
  seed: number;
  valFraction: number;
  testFraction: number;
  /** A split JSON to reuse (copied to <run-dir>/split.json); null: <run-dir>/split.json, made when missing. */
  split: string | null;
  /** Intra-op threads; null: the engine's default (all cores, or SAMTUTOR_THREADS). */
  threads: number | null;
  /** Minutes of training (epochs, validation) after which the run stops at the end of the current epoch. */
  timeBudget: number | null;
  valEvery: number;
  /** Also compute HD95 in validation (pixels at the model resolution for 2D, mm for 3D). */
  valHd95: boolean;
  /** 3D: probability that a patch is centred on foreground (nnU-Net 0.33). */
  foregroundProb: number;
  /** 3D validation / prediction: sliding-window overlap. */
  overlap: number;
  /** Use at most this many training / validation cases (smoke tests, quick looks); null: all. */
  maxTrainCases: number | null;
  maxValCases: number | null;
  /** Method-specific options, validated by the method (MuGu, SC-SAM, ESP-MedSAM). */
  methodOptions: Record<string, unknown>;
}

export const DEFAULT_LOSS: Readonly<LossConfig> = Object.freeze({
  name: 'dice-ce', batchDice: false, includeBackground: false, smooth: 1e-5, lambdaDice: 1, lambdaCE: 1, gamma: 2, alpha: null, boundary: null,
});

const defaults: Omit<TrainConfig, 'method' | 'data'> = {
  model: { widths: [16, 32, 64, 128], norm: 'batch', groups: 8, dropout: 0, upsample: 'transpose', convsPerLevel: 2 },
  size: null, patchSize: null, channels: 'auto', normalization: 'auto',
  epochs: 50, iterationsPerEpoch: null, batch: null,
  optimizer: 'adamw', lr: 1e-3, momentum: 0.99, weightDecay: 1e-4, schedule: 'poly', warmupEpochs: 0,
  loss: DEFAULT_LOSS, augment: 'weak', bf16: false, seed: 0, valFraction: 0.1, testFraction: 0.1, split: null,
  threads: null, timeBudget: null, valEvery: 1, valHd95: true, foregroundProb: 0.33, overlap: 0.5,
  maxTrainCases: null, maxValCases: null, methodOptions: {},
};
export const DEFAULTS: Readonly<Omit<TrainConfig, 'method' | 'data'>> = Object.freeze(defaults);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Later layers override earlier ones key by key; nested objects (model, loss, methodOptions) merge one level deep. */
export function mergeConfig(...layers: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? { ...(out[k] as object), ...v } : v;
    }
  }
  return out;
}

/** Validates a merged config (every key known, every value of the right kind and range) and returns it typed. */
export function validateConfig(value: unknown): TrainConfig {
  const c = checkObject(value, 'config');
  const known = new Set(['method', 'data', ...Object.keys(DEFAULTS)]);
  for (const k of Object.keys(c)) {
    if (!known.has(k)) throw new ConfigError(`unknown config key "${k}" (known: ${[...known].join(', ')})`);
  }
  for (const k of known) {
    if (!(k in c)) throw new ConfigError(`config is missing "${k}"`);
    CONFIG_CHECKS[k as keyof typeof CONFIG_CHECKS](c[k], k);
  }
  if ((c.valFraction as number) + (c.testFraction as number) >= 1) {
    throw new ConfigError(`valFraction + testFraction must leave training cases, but ${String(c.valFraction)} + ${String(c.testFraction)} >= 1`);
  }
  return c as unknown as TrainConfig;
}

/** DEFAULTS ← file ← flags, validated. */
export function buildConfig(file: Record<string, unknown>, flags: Record<string, unknown>): TrainConfig {
  return validateConfig(mergeConfig(DEFAULTS as unknown as Record<string, unknown>, file, flags));
}
