// Loading SAM-family checkpoints: official SAM vit_b / vit_l / vit_h, MedSAM, MobileSAM, LiteMedSAM and any
// ViT size. The state dict is unwrapped from training checkpoints ({model: …}, {state_dict: …}) and a DataParallel
// `module.` prefix is stripped (engine/serialization loadStateDict). With modelType 'auto' the architecture is
// read off the keys and shapes (sam.md §2 "Type detection"); the model is then built and loaded strictly. A
// checkpoint that does not fit fails with one line naming the first missing, unexpected and mis-shaped keys.
import { basename } from 'node:path';
import { type Tensor, dispose } from '../../engine/index.ts';
import { loadStateDict } from '../../engine/serialization/index.ts';
import { type Sam } from './sam.ts';
import {
  type SamConfig, type SamMaskDecoderConfig, type SamPromptEncoderConfig, type SamViTEncoderConfig, type SamTinyViTEncoderConfig,
  SAM_MODEL_CONFIGS, buildSam, getSamConfig, samConfig,
} from './registry.ts';
import { MOBILE_SAM_TINYVIT } from './tinyVit.ts';

/** 'auto' (detect from keys and shapes), a registry name or alias, or a full config. */
export type SamModelType = 'auto' | string | SamConfig;

export interface LoadSamCheckpointOptions {
  modelType?: SamModelType;
  /** Where the state dict sits in the file ('model', 'state_dict', …); default: found automatically. */
  key?: string;
}

export interface LoadedSam {
  /** The model with the checkpoint's weights, in eval mode. */
  model: Sam;
  /** The config it was built from (name: registry key, or 'custom'). */
  config: SamConfig;
}

type Shapes = Map<string, readonly number[]>;
const SHOWN = 5;
const quoteList = (keys: string[]): string =>
  keys.slice(0, SHOWN).map((k) => `"${k}"`).join(', ') + (keys.length > SHOWN ? `, … (${keys.length - SHOWN} more)` : '');
const dims = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Thrown when a file is not a (fitting) SAM checkpoint; the message is one line. */
export class SamCheckpointError extends Error {
  override name = 'SamCheckpointError';
}

function shapesOf(sd: Map<string, Tensor> | Shapes): Shapes {
  return new Map([...sd].map(([k, v]) => [k, Array.isArray(v) ? v : (v as Tensor).shape]));
}

const nonSamKeys = (shapes: Shapes): string[] => [...shapes.keys()].filter((k) => !/^(image_encoder|prompt_encoder|mask_decoder)\./.test(k));

/** A reader of required shapes: a missing key throws, naming it and what it was needed for. */
function needer(shapes: Shapes, label: string): (key: string, what: string) => readonly number[] {
  return (key, what) => {
    const s = shapes.get(key);
    if (!s) {
      const odd = nonSamKeys(shapes);
      throw new SamCheckpointError(`${label} is not a complete SAM checkpoint: missing key "${key}" (needed for ${what}); ${shapes.size} keys in the file${odd.length ? `, unexpected: ${quoteList(odd)}` : ''}`);
    }
    return s;
  };
}

/** 1 + the largest N of keys `${prefix}N.…` (0 if none). */
function countIndexed(shapes: Shapes, prefix: string): number {
  let n = 0;
  for (const k of shapes.keys()) {
    if (!k.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(k.slice(prefix.length));
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

const KNOWN_HEADS: Record<number, number> = { 768: 12, 1024: 16, 1280: 16 };

function detectVit(shapes: Shapes, need: ReturnType<typeof needer>, label: string): SamViTEncoderConfig {
  const P = 'image_encoder.';
  const [D, inChans, patchSize] = need(`${P}patch_embed.proj.weight`, 'the embedding width') as [number, number, number];
  const pos = shapes.get(`${P}pos_embed`);
  const grid = pos ? pos[1]! : Math.floor(1024 / patchSize);
  const depth = countIndexed(shapes, `${P}blocks.`);
  need(`${P}blocks.0.norm1.weight`, 'the encoder depth');
  const rel = Array.from({ length: depth }, (_, i) => shapes.get(`${P}blocks.${i}.attn.rel_pos_h`));
  const useRelPos = rel[0] !== undefined;
  const headDim = rel[0]?.[1];
  const numHeads = headDim ? D / headDim : KNOWN_HEADS[D];
  if (!numHeads || !Number.isInteger(numHeads)) throw new SamCheckpointError(`${label}: cannot infer the attention heads of a ViT of width ${D} without relative-position tables`);
  const globalAttnIndexes = useRelPos ? rel.flatMap((s, i) => (s?.[0] === 2 * grid - 1 ? [i] : [])) : [];
  const windowRows = new Set(rel.flatMap((s) => (s && s[0] !== 2 * grid - 1 ? [s[0]!] : [])));
  if (windowRows.size > 1) throw new SamCheckpointError(`${label}: windowed blocks have relative-position tables of different lengths (${[...windowRows].join(', ')})`);
  const rows = [...windowRows][0];
  const windowSize = rows !== undefined ? (rows + 1) / 2 : useRelPos ? 0 : 14;
  return {
    type: 'vit', imgSize: grid * patchSize, patchSize, inChans, embedDim: D, depth, numHeads,
    mlpRatio: need(`${P}blocks.0.mlp.lin1.weight`, 'the MLP ratio')[0]! / D, outChans: need(`${P}neck.0.weight`, 'the neck width')[0]!,
    qkvBias: shapes.has(`${P}blocks.0.attn.qkv.bias`), layerNormEps: 1e-6, useAbsPos: pos !== undefined, useRelPos, windowSize, globalAttnIndexes,
  };
}

function detectTinyVit(shapes: Shapes, need: ReturnType<typeof needer>): SamTinyViTEncoderConfig {
  const P = 'image_encoder.';
  const stem = need(`${P}patch_embed.seq.0.c.weight`, 'the TinyViT stem');
  const embedDims = [need(`${P}patch_embed.seq.2.c.weight`, 'the stem width')[0]!];
  const depths = [countIndexed(shapes, `${P}layers.0.blocks.`)];
  const numHeads = [MOBILE_SAM_TINYVIT.numHeads[0]!], windowSizes = [MOBILE_SAM_TINYVIT.windowSizes[0]!];
  for (let i = 1; i < 4; i++) {
    embedDims.push(need(`${P}layers.${i}.blocks.0.attn.qkv.weight`, `stage ${i}'s width`)[1]!);
    depths.push(countIndexed(shapes, `${P}layers.${i}.blocks.`));
    const bias = need(`${P}layers.${i}.blocks.0.attn.attention_biases`, `stage ${i}'s heads and window`);
    numHeads.push(bias[0]!);
    windowSizes.push(Math.round(Math.sqrt(bias[1]!)));
  }
  const stemKernel = stem[2] === 1 ? 1 : 3;
  return {
    type: 'tinyvit',
    tinyVit: {
      imgSize: stemKernel === 3 ? 1024 : 256, inChans: stem[1]!, embedDims, depths, numHeads, windowSizes,
      mlpRatio: need(`${P}layers.1.blocks.0.mlp.fc1.weight`, 'the MLP ratio')[0]! / embedDims[1]!,
      mbconvExpandRatio: need(`${P}layers.0.blocks.0.conv1.c.weight`, 'the MBConv expansion')[0]! / embedDims[0]!,
      localConvSize: need(`${P}layers.1.blocks.0.local_conv.c.weight`, 'the local conv size')[2]!, stemKernel,
      // TinyViT's rule: the PatchMerging into 320, 448 or 576 channels keeps the resolution.
      mergeStrides: [1, 2, 3].map((i) => ([320, 448, 576].includes(embedDims[i]!) ? 1 : 2)),
      numClasses: shapes.get(`${P}head.weight`)?.[0] ?? 0, outChans: need(`${P}neck.0.weight`, 'the neck width')[0]!,
    },
  };
}

/** Side of TinyViT's output grid: the 3×3 stem halves twice, each merge divides by its stride (rounding up). */
function tinyVitGrid(t: SamTinyViTEncoderConfig['tinyVit']): number {
  let side = t.stemKernel === 3 ? Math.ceil(Math.ceil(t.imgSize / 2) / 2) : t.imgSize;
  for (const s of t.mergeStrides) side = Math.ceil(side / s);
  return side;
}

function detectHeads(shapes: Shapes, need: ReturnType<typeof needer>, imgSize: number, grid: number): [SamPromptEncoderConfig, SamMaskDecoderConfig] {
  const md = 'mask_decoder.';
  const transformerDim = need(`${md}iou_token.weight`, 'the decoder width')[1]!;
  const iouHeadDepth = countIndexed(shapes, `${md}iou_prediction_head.layers.`);
  const prompt: SamPromptEncoderConfig = {
    embedDim: need('prompt_encoder.no_mask_embed.weight', 'the prompt width')[1]!, imageEmbeddingSize: [grid, grid],
    inputImageSize: [imgSize, imgSize], maskInChans: need('prompt_encoder.mask_downscaling.3.weight', 'the mask channels')[0]!,
  };
  const decoder: SamMaskDecoderConfig = {
    transformerDim, numMultimaskOutputs: need(`${md}mask_tokens.weight`, 'the mask tokens')[0]! - 1, iouHeadDepth,
    iouHeadHiddenDim: iouHeadDepth > 1 ? need(`${md}iou_prediction_head.layers.0.weight`, 'the IoU head')[0]! : 256,
    transformerDepth: countIndexed(shapes, `${md}transformer.layers.`),
    // Not recorded in the weights: every released SAM-family decoder uses 8 heads.
    transformerNumHeads: 8,
    transformerMlpDim: need(`${md}transformer.layers.0.mlp.lin1.weight`, 'the decoder MLP')[0]!,
    attentionDownsampleRate: transformerDim / need(`${md}transformer.final_attn_token_to_image.q_proj.weight`, 'the attention downsampling')[0]!,
  };
  return [prompt, decoder];
}

const archKey = (c: SamConfig): string => JSON.stringify([c.imageEncoder, c.promptEncoder, c.maskDecoder]);

/** The registry name whose architecture equals c's (MedSAM when a vit_b file's name says so), else 'custom'. */
function nameOf(c: SamConfig, fileName: string): string {
  const key = archKey(c);
  const hits = Object.entries(SAM_MODEL_CONFIGS).filter(([, r]) => archKey(r) === key).map(([n]) => n);
  if (hits.includes('medsam') && /medsam/i.test(fileName)) return 'medsam';
  return hits[0] ?? 'custom';
}

/**
 * The SAM config a state dict (or a map of key → shape) was saved from: ViT when
 * `image_encoder.patch_embed.proj.weight` is present (width, depth, heads from the rel-pos tables, global blocks =
 * those whose table spans the whole token grid), TinyViT when `image_encoder.patch_embed.seq.0.c.weight` is
 * (3×3 stem: MobileSAM at 1024, 1×1: LiteMedSAM at 256). fileName only separates MedSAM from SAM vit_b.
 */
export function detectSamConfig(stateDict: Map<string, Tensor> | Shapes, opts: { fileName?: string; label?: string } = {}): SamConfig {
  const shapes = shapesOf(stateDict);
  const label = opts.label ?? 'the state dict';
  const need = needer(shapes, label);
  let encoder: SamViTEncoderConfig | SamTinyViTEncoderConfig;
  if (shapes.has('image_encoder.patch_embed.proj.weight')) encoder = detectVit(shapes, need, label);
  else if (shapes.has('image_encoder.patch_embed.seq.0.c.weight')) encoder = detectTinyVit(shapes, need);
  else {
    const odd = nonSamKeys(shapes);
    throw new SamCheckpointError(`${label} is not a SAM checkpoint: missing "image_encoder.patch_embed.proj.weight" (ViT) and "image_encoder.patch_embed.seq.0.c.weight" (TinyViT); ${shapes.size} keys${odd.length ? `, unexpected: ${quoteList(odd)}` : `: ${quoteList([...shapes.keys()])}`}`);
  }
  const imgSize = encoder.type === 'vit' ? encoder.imgSize : encoder.tinyVit.imgSize;
  const grid = encoder.type === 'vit' ? Math.floor(encoder.imgSize / encoder.patchSize) : tinyVitGrid(encoder.tinyVit);
  const [promptEncoder, maskDecoder] = detectHeads(shapes, need, imgSize, grid);
  const draft = samConfig({
    name: 'custom', imageEncoder: encoder, promptEncoder, maskDecoder, pixelMean: [123.675, 116.28, 103.53], pixelStd: [58.395, 57.12, 57.375],
    preprocessing: encoder.type === 'tinyvit' && encoder.tinyVit.stemKernel === 1 ? 'lite_medsam' : 'sam',
  });
  const name = nameOf(draft, opts.fileName ?? '');
  return name === 'custom' ? draft : SAM_MODEL_CONFIGS[name]!;
}

/** Keys the model has but the file lacks, keys only the file has, and keys whose shapes differ. */
export function compareStateDict(model: Sam, stateDict: Map<string, Tensor>): { missing: string[]; unexpected: string[]; shapeMismatch: string[] } {
  const own = model.stateDict();
  const missing = [...own.keys()].filter((k) => !stateDict.has(k));
  const unexpected = [...stateDict.keys()].filter((k) => !own.has(k));
  const shapeMismatch: string[] = [];
  for (const [k, t] of own) {
    const f = stateDict.get(k);
    if (f && f.shape.join() !== t.shape.join()) shapeMismatch.push(`${k}: checkpoint ${dims(f.shape)} vs model ${dims(t.shape)}`);
  }
  return { missing, unexpected, shapeMismatch };
}

/** Loads stateDict into model strictly; any mismatch throws one line with the first offenders of each kind. */
export function loadSamStateDict(model: Sam, stateDict: Map<string, Tensor>, o: { label?: string; modelName?: string } = {}): void {
  const { missing, unexpected, shapeMismatch } = compareStateDict(model, stateDict);
  if (missing.length || unexpected.length || shapeMismatch.length) {
    const parts = [`${missing.length} missing${missing.length ? ` (${quoteList(missing)})` : ''}`,
      `${unexpected.length} unexpected${unexpected.length ? ` (${quoteList(unexpected)})` : ''}`,
      `${shapeMismatch.length} with other shapes${shapeMismatch.length ? ` (${shapeMismatch.slice(0, SHOWN).join('; ')}${shapeMismatch.length > SHOWN ? `; … ${shapeMismatch.length - SHOWN} more` : ''})` : ''}`];
    throw new SamCheckpointError(`${o.label ?? 'the state dict'} does not fit SAM "${o.modelName ?? 'model'}": keys ${parts.join(', ')}`);
  }
  model.loadStateDict(stateDict, { strict: true });
}

/**
 * Reads a SAM-family checkpoint (.pth / .pt zip or safetensors), builds the model for opts.modelType ('auto' by
 * default: detected from the keys and shapes) and loads the weights strictly.
 */
export function loadSamCheckpoint(path: string, opts: LoadSamCheckpointOptions = {}): LoadedSam {
  const label = `loadSamCheckpoint: ${path}`;
  const stateDict = loadStateDict(path, opts.key === undefined ? {} : { key: opts.key });
  try {
    const type = opts.modelType ?? 'auto';
    const config = type === 'auto' ? detectSamConfig(stateDict, { fileName: basename(path), label })
      : typeof type === 'string' ? getSamConfig(type) : samConfig(type);
    const model = buildSam(config);
    try {
      loadSamStateDict(model, stateDict, { label, modelName: config.name });
    } catch (err) {
      model.dispose();
      throw err;
    }
    return { model, config };
  } finally {
    dispose([...stateDict.values()]);
  }
}
