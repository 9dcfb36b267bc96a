// SAM variants as data: a frozen registry of plain configs (the official vit_b / vit_l / vit_h, MedSAM, and the
// TinyViT students MobileSAM and LiteMedSAM), samVitConfig() for any other ViT size, samConfig() to validate a
// config object, and buildSam() that turns a config into modules. Variants differ only in numbers, as in the
// official build_sam.py (one private builder with the shared constants: 1024 input, patch 16, prompt width 256,
// window 14, 3 multimask outputs).
import { ImageEncoderViT } from './imageEncoder.ts';
import { PromptEncoder } from './promptEncoder.ts';
import { TwoWayTransformer } from './twoWayTransformer.ts';
import { MaskDecoder } from './maskDecoder.ts';
import { Sam, SAM_PIXEL_MEAN, SAM_PIXEL_STD, type SamImageEncoder } from './sam.ts';
import { TinyViT, type TinyViTConfig, MOBILE_SAM_TINYVIT, LITE_MEDSAM_TINYVIT, tinyVitConfig } from './tinyVit.ts';
import { expected } from './common.ts';

/** ViT encoder hyper-parameters (ImageEncoderViT's constructor arguments). */
export interface SamViTEncoderConfig {
  readonly type: 'vit';
  readonly imgSize: number;
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly mlpRatio: number;
  readonly outChans: number;
  readonly qkvBias: boolean;
  readonly layerNormEps: number;
  readonly useAbsPos: boolean;
  readonly useRelPos: boolean;
  readonly windowSize: number;
  readonly globalAttnIndexes: readonly number[];
}

export interface SamTinyViTEncoderConfig {
  readonly type: 'tinyvit';
  readonly tinyVit: TinyViTConfig;
}

export type SamEncoderConfig = SamViTEncoderConfig | SamTinyViTEncoderConfig;

export interface SamPromptEncoderConfig {
  readonly embedDim: number;
  /** (H, W) of the image embedding. */
  readonly imageEmbeddingSize: readonly [number, number];
  /** (H, W) of the padded encoder input; point/box coordinates are normalised by it. */
  readonly inputImageSize: readonly [number, number];
  readonly maskInChans: number;
}

export interface SamMaskDecoderConfig {
  readonly transformerDim: number;
  readonly numMultimaskOutputs: number;
  readonly iouHeadDepth: number;
  readonly iouHeadHiddenDim: number;
  readonly transformerDepth: number;
  readonly transformerNumHeads: number;
  readonly transformerMlpDim: number;
  readonly attentionDownsampleRate: number;
}

/** How images and prompts reach the model (used by predictors): see sam.md §4. */
export type SamPreprocessing = 'sam' | 'medsam' | 'lite_medsam';

export interface SamConfig {
  /** Registry key, or 'custom'. */
  readonly name: string;
  readonly imageEncoder: SamEncoderConfig;
  readonly promptEncoder: SamPromptEncoderConfig;
  readonly maskDecoder: SamMaskDecoderConfig;
  readonly pixelMean: readonly number[];
  readonly pixelStd: readonly number[];
  readonly preprocessing: SamPreprocessing;
}

/** The numbers a ViT SAM is made of; everything but the first four defaults to the official constants. */
export interface SamViTSpec {
  name?: string;
  embedDim: number;
  depth: number;
  numHeads: number;
  globalAttnIndexes: readonly number[];
  imgSize?: number;
  patchSize?: number;
  windowSize?: number;
  mlpRatio?: number;
  /** Prompt / transformer width and encoder output channels (256). */
  promptEmbedDim?: number;
  maskInChans?: number;
  decoderMlpDim?: number;
  decoderDepth?: number;
  decoderNumHeads?: number;
  attentionDownsampleRate?: number;
  iouHeadDepth?: number;
  iouHeadHiddenDim?: number;
  numMultimaskOutputs?: number;
  pixelMean?: readonly number[];
  pixelStd?: readonly number[];
  preprocessing?: SamPreprocessing;
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function freezeConfig(c: SamConfig): SamConfig {
  const enc = c.imageEncoder.type === 'vit'
    ? Object.freeze({ ...c.imageEncoder, globalAttnIndexes: Object.freeze([...c.imageEncoder.globalAttnIndexes]) })
    : Object.freeze({ type: 'tinyvit' as const, tinyVit: tinyVitConfig(c.imageEncoder.tinyVit) });
  const pe = c.promptEncoder;
  return Object.freeze({
    name: c.name, imageEncoder: enc,
    promptEncoder: Object.freeze({
      ...pe, imageEmbeddingSize: Object.freeze([...pe.imageEmbeddingSize]) as unknown as readonly [number, number],
      inputImageSize: Object.freeze([...pe.inputImageSize]) as unknown as readonly [number, number],
    }),
    maskDecoder: Object.freeze({ ...c.maskDecoder }),
    pixelMean: Object.freeze([...c.pixelMean]), pixelStd: Object.freeze([...c.pixelStd]), preprocessing: c.preprocessing,
  });
}

function decoderConfig(s: Partial<SamViTSpec>, dim: number): SamMaskDecoderConfig {
  return {
    transformerDim: dim, numMultimaskOutputs: s.numMultimaskOutputs ?? 3, iouHeadDepth: s.iouHeadDepth ?? 3,
    iouHeadHiddenDim: s.iouHeadHiddenDim ?? 256, transformerDepth: s.decoderDepth ?? 2, transformerNumHeads: s.decoderNumHeads ?? 8,
    transformerMlpDim: s.decoderMlpDim ?? 2048, attentionDownsampleRate: s.attentionDownsampleRate ?? 2,
  };
}

/** A full, validated, frozen config for a ViT SAM of any size (the official _build_sam with these numbers). */
export function samVitConfig(spec: SamViTSpec): SamConfig {
  if (!spec || typeof spec !== 'object') throw expected('a SAM ViT spec object', 'spec', spec);
  const imgSize = spec.imgSize ?? 1024, patchSize = spec.patchSize ?? 16, dim = spec.promptEmbedDim ?? 256;
  const grid = Math.floor(imgSize / patchSize);
  return samConfig({
    name: spec.name ?? 'custom',
    imageEncoder: {
      type: 'vit', imgSize, patchSize, inChans: 3, embedDim: spec.embedDim, depth: spec.depth, numHeads: spec.numHeads,
      mlpRatio: spec.mlpRatio ?? 4, outChans: dim, qkvBias: true, layerNormEps: 1e-6, useAbsPos: true, useRelPos: true,
      windowSize: spec.windowSize ?? 14, globalAttnIndexes: spec.globalAttnIndexes,
    },
    promptEncoder: { embedDim: dim, imageEmbeddingSize: [grid, grid], inputImageSize: [imgSize, imgSize], maskInChans: spec.maskInChans ?? 16 },
    maskDecoder: decoderConfig(spec, dim),
    pixelMean: spec.pixelMean ?? SAM_PIXEL_MEAN, pixelStd: spec.pixelStd ?? SAM_PIXEL_STD, preprocessing: spec.preprocessing ?? 'sam',
  });
}

function tinyVitSamConfig(name: string, tinyVit: TinyViTConfig, preprocessing: SamPreprocessing): SamConfig {
  const s = tinyVit.imgSize;
  return samConfig({
    name, imageEncoder: { type: 'tinyvit', tinyVit },
    promptEncoder: { embedDim: 256, imageEmbeddingSize: [64, 64], inputImageSize: [s, s], maskInChans: 16 },
    maskDecoder: decoderConfig({}, 256), pixelMean: SAM_PIXEL_MEAN, pixelStd: SAM_PIXEL_STD, preprocessing,
  });
}

function checkVitEncoder(e: SamViTEncoderConfig): void {
  for (const k of ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads', 'outChans'] as const) if (!posInt(e[k])) throw expected('integer >= 1', `imageEncoder.${k}`, e[k]);
  if (e.embedDim % e.numHeads !== 0) throw new RangeError(`SAM config: imageEncoder.embedDim ${e.embedDim} is not divisible by numHeads ${e.numHeads}`);
  if (!Number.isInteger(e.windowSize) || e.windowSize < 0) throw expected('integer >= 0', 'imageEncoder.windowSize', e.windowSize);
  if (!Array.isArray(e.globalAttnIndexes) || !e.globalAttnIndexes.every((i) => Number.isInteger(i) && i >= 0 && i < e.depth)) {
    throw expected(`a list of block indexes between 0 and ${e.depth - 1}`, 'imageEncoder.globalAttnIndexes', e.globalAttnIndexes);
  }
  for (const k of ['mlpRatio', 'layerNormEps'] as const) if (typeof e[k] !== 'number' || !(e[k] > 0)) throw expected('a number > 0', `imageEncoder.${k}`, e[k]);
  for (const k of ['qkvBias', 'useAbsPos', 'useRelPos'] as const) if (typeof e[k] !== 'boolean') throw expected('a boolean', `imageEncoder.${k}`, e[k]);
}

/** Validates a full SamConfig (the widths must agree across the parts) and returns a frozen copy. */
export function samConfig(c: SamConfig): SamConfig {
  if (!c || typeof c !== 'object') throw expected('a SAM config object', 'config', c);
  if (typeof c.name !== 'string' || c.name === '') throw expected('a non-empty string', 'name', c.name);
  const enc = c.imageEncoder;
  if (!enc || (enc.type !== 'vit' && enc.type !== 'tinyvit')) throw expected("an encoder config of type 'vit' or 'tinyvit'", 'imageEncoder.type', (enc as { type?: unknown } | undefined)?.type);
  if (enc.type === 'vit') checkVitEncoder(enc);
  const outChans = enc.type === 'vit' ? enc.outChans : tinyVitConfig(enc.tinyVit).outChans;
  const pe = c.promptEncoder, md = c.maskDecoder;
  for (const k of ['embedDim', 'maskInChans'] as const) if (!posInt(pe?.[k])) throw expected('integer >= 1', `promptEncoder.${k}`, pe?.[k]);
  for (const k of ['imageEmbeddingSize', 'inputImageSize'] as const) {
    if (!Array.isArray(pe[k]) || pe[k].length !== 2 || !pe[k].every(posInt)) throw expected('a pair of integers >= 1 as (H, W)', `promptEncoder.${k}`, pe[k]);
  }
  for (const k of Object.keys(decoderConfig({}, 1)) as (keyof SamMaskDecoderConfig)[]) if (!posInt(md?.[k])) throw expected('integer >= 1', `maskDecoder.${k}`, md?.[k]);
  if (outChans !== pe.embedDim || md.transformerDim !== pe.embedDim) {
    throw new RangeError(`SAM config: encoder output channels (${outChans}), prompt embedDim (${pe.embedDim}) and decoder transformerDim (${md.transformerDim}) must be equal`);
  }
  for (const k of ['pixelMean', 'pixelStd'] as const) {
    if (!Array.isArray(c[k]) || c[k].length !== 3 || !c[k].every(Number.isFinite)) throw expected('3 finite numbers', k, c[k]);
  }
  if (!['sam', 'medsam', 'lite_medsam'].includes(c.preprocessing)) throw expected('one of sam, medsam, lite_medsam', 'preprocessing', c.preprocessing);
  return freezeConfig(c);
}

/** The registry: official names → configs. MedSAM is SAM vit_b with MedSAM's preprocessing. */
export const SAM_MODEL_CONFIGS: Readonly<Record<string, SamConfig>> = Object.freeze({
  vit_h: samVitConfig({ name: 'vit_h', embedDim: 1280, depth: 32, numHeads: 16, globalAttnIndexes: [7, 15, 23, 31] }),
  vit_l: samVitConfig({ name: 'vit_l', embedDim: 1024, depth: 24, numHeads: 16, globalAttnIndexes: [5, 11, 17, 23] }),
  vit_b: samVitConfig({ name: 'vit_b', embedDim: 768, depth: 12, numHeads: 12, globalAttnIndexes: [2, 5, 8, 11] }),
  medsam: samVitConfig({ name: 'medsam', embedDim: 768, depth: 12, numHeads: 12, globalAttnIndexes: [2, 5, 8, 11], preprocessing: 'medsam' }),
  mobile_sam: tinyVitSamConfig('mobile_sam', MOBILE_SAM_TINYVIT, 'sam'),
  lite_medsam: tinyVitSamConfig('lite_medsam', LITE_MEDSAM_TINYVIT, 'lite_medsam'),
});

/** Other names for registry entries (the official registries' keys). */
export const SAM_MODEL_ALIASES: Readonly<Record<string, string>> = Object.freeze({ default: 'vit_h', vit_t: 'mobile_sam', medsam_vit_b: 'medsam' });

/** The config registered under name (or alias); an unknown name is an error listing the valid ones. */
export function getSamConfig(name: string): SamConfig {
  const key = Object.hasOwn(SAM_MODEL_ALIASES, name) ? SAM_MODEL_ALIASES[name]! : name;
  const c = Object.hasOwn(SAM_MODEL_CONFIGS, key) ? SAM_MODEL_CONFIGS[key] : undefined;
  if (!c) {
    const valid = [...Object.keys(SAM_MODEL_CONFIGS), ...Object.keys(SAM_MODEL_ALIASES)].join(', ');
    throw new TypeError(`Expected one of ${valid} for model type but received ${String(name)} of type ${typeof name}`);
  }
  return c;
}

function buildImageEncoder(e: SamEncoderConfig): SamImageEncoder {
  if (e.type === 'tinyvit') return new TinyViT(e.tinyVit);
  return new ImageEncoderViT({
    imgSize: e.imgSize, patchSize: e.patchSize, inChans: e.inChans, embedDim: e.embedDim, depth: e.depth, numHeads: e.numHeads,
    mlpRatio: e.mlpRatio, outChans: e.outChans, qkvBias: e.qkvBias, layerNormEps: e.layerNormEps, useAbsPos: e.useAbsPos,
    useRelPos: e.useRelPos, windowSize: e.windowSize, globalAttnIndexes: e.globalAttnIndexes,
  });
}

/**
 * A Sam with freshly initialised weights for a registry name or a config, in eval mode as the official builder
 * leaves it (TinyViT's BatchNorms then use running statistics). Load weights with loadSamCheckpoint.
 */
export function buildSam(config: string | SamConfig): Sam {
  const c = typeof config === 'string' ? getSamConfig(config) : samConfig(config);
  const pe = c.promptEncoder, md = c.maskDecoder;
  const imageEncoder = buildImageEncoder(c.imageEncoder);
  const promptEncoder = new PromptEncoder({
    embedDim: pe.embedDim, imageEmbeddingSize: [...pe.imageEmbeddingSize], inputImageSize: [...pe.inputImageSize], maskInChans: pe.maskInChans,
  });
  const transformer = new TwoWayTransformer({
    depth: md.transformerDepth, embeddingDim: md.transformerDim, numHeads: md.transformerNumHeads, mlpDim: md.transformerMlpDim,
    attentionDownsampleRate: md.attentionDownsampleRate,
  });
  const maskDecoder = new MaskDecoder({
    transformerDim: md.transformerDim, transformer, numMultimaskOutputs: md.numMultimaskOutputs, iouHeadDepth: md.iouHeadDepth,
    iouHeadHiddenDim: md.iouHeadHiddenDim,
  });
  return new Sam(imageEncoder, promptEncoder, maskDecoder, { pixelMean: c.pixelMean, pixelStd: c.pixelStd }).eval();
}
