// Resolving a config against its data: the automatic fields (channels, normalisation, size / patch size, batch,
// iterations per epoch) and the full U-Net config (spatial dims, in / out channels from the data). The result is
// what config.json records, so resolving it again gives the same run.
import { loadSample, disposeSample, type ImageGeometry } from '../data/index.ts';
import { type UNetConfig, unetConfig } from '../models/unet/index.ts';
import { ConfigError } from './configChecks.ts';
import type { TrainConfig } from './config.ts';
import type { CaseRef, TrainingData } from './data.ts';
import type { Preprocessing } from './preprocess.ts';

/** A config whose automatic fields are filled in. */
export type ResolvedConfig = Omit<TrainConfig, 'batch' | 'iterationsPerEpoch' | 'normalization' | 'model'> & {
  batch: number;
  iterationsPerEpoch: number;
  normalization: 'unit' | 'zscore';
  model: UNetConfig;
};

/** What the first training case tells about the data: channels, bit depth, spatial shape. */
export interface Probe {
  channels: number;
  bitDepth: 8 | 16;
  shape: number[];
}

export async function probeCase(ref: CaseRef, channels: TrainConfig['channels']): Promise<Probe> {
  const s = await loadSample(ref.record, { channels: ref.record.dims === 2 ? channels : 'auto', extras: false }, ref.index);
  try {
    const bitDepth = s.geometry.kind === 'image' ? (s.geometry as ImageGeometry).bitDepth : 16;
    return { channels: s.image.shape[0]!, bitDepth, shape: s.image.shape.slice(1) };
  } finally {
    disposeSample(s);
  }
}

/** The U-Net's size multiple: it halves the input widths.length − 1 times. */
export const sizeMultiple = (cfg: Pick<TrainConfig, 'model'>): number => 2 ** (cfg.model.widths.length - 1);

/** nnU-Net-like automatic 3D patch: the median case shape per axis, rounded up to the multiple, at most 128. */
export function autoPatchSize(shapes: number[][], multiple: number): number[] {
  return [0, 1, 2].map((d) => {
    const sorted = shapes.map((s) => s[d]!).sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return Math.min(Math.max(multiple, Math.ceil(median / multiple) * multiple), Math.max(multiple, Math.floor(128 / multiple) * multiple));
  });
}

/** Preprocessing for the data (3D: size is the configured patch, or [] until autoPatchSize fills it from the cache). */
export function resolvePreprocessing(cfg: TrainConfig, data: TrainingData, probe: Probe): Preprocessing {
  const multiple = sizeMultiple(cfg);
  const normalization = cfg.normalization === 'auto' ? (data.dims === 2 ? 'unit' : 'zscore') : cfg.normalization;
  if (data.dims === 3 && normalization !== 'zscore') throw new ConfigError('3D volumes are normalised with zscore; normalization "unit" is for 2D images');
  let size: number[];
  if (data.dims === 2) {
    size = [cfg.size ?? 256, cfg.size ?? 256];
  } else {
    size = cfg.patchSize ?? (cfg.size === null ? [] : [cfg.size, cfg.size, cfg.size]);
  }
  for (const s of size) {
    if (s % multiple === 0) continue;
    const what = data.dims === 2 ? 'size' : 'the patch size';
    throw new ConfigError(`Expected a multiple of ${multiple} for ${what} (the U-Net halves it ${Math.log2(multiple)} times) but received ${s}`);
  }
  if (data.numClasses > 256) throw new ConfigError(`${data.numClasses} classes: label maps above 255 are not supported`);
  return {
    dims: data.dims, channels: probe.channels, size, resize: data.dims === 2 ? 'stretch' : 'none', normalization,
    storage: data.dims === 2 && normalization === 'unit' && probe.bitDepth === 8 ? 'uint8' : 'float32',
    labels: Object.fromEntries(Object.entries(data.labels).map(([k, v]) => [String(k), v])),
    numClasses: data.numClasses, outChannels: data.numClasses === 2 ? 1 : data.numClasses, overlap: cfg.overlap,
  };
}

function resolveModel(cfg: TrainConfig, prep: Preprocessing): UNetConfig {
  const derived = { spatialDims: prep.dims, inChannels: prep.channels, outChannels: prep.outChannels } as const;
  for (const [k, v] of Object.entries(derived)) {
    const given = (cfg.model as unknown as Record<string, unknown>)[k];
    if (given !== undefined && given !== v) throw new ConfigError(`model.${k} is ${String(given)} but the data needs ${v}`);
  }
  const { arch, widths, norm, groups, dropout, upsample, convsPerLevel } = cfg.model;
  try {
    return unetConfig({ arch: arch ?? 'unet', widths, norm, groups, dropout, upsample, convsPerLevel, ...derived });
  } catch (err) {
    throw new ConfigError(`model: ${(err as Error).message}`);
  }
}

/** The config with every automatic field filled (prep.size must be final). */
export function resolveConfig(cfg: TrainConfig, prep: Preprocessing, trainCases: number): ResolvedConfig {
  const batch = cfg.batch ?? (prep.dims === 2 ? 8 : 2);
  return {
    ...cfg,
    model: resolveModel(cfg, prep),
    channels: prep.dims === 2 ? (prep.channels as 1 | 3) : cfg.channels,
    normalization: prep.normalization,
    size: prep.dims === 2 ? prep.size[0]! : cfg.size,
    patchSize: prep.dims === 3 ? [...prep.size] : cfg.patchSize,
    batch,
    iterationsPerEpoch: cfg.iterationsPerEpoch ?? Math.max(1, Math.floor(trainCases / batch)),
  };
}
