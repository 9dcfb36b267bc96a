// TinyViT image encoder of MobileSAM (ChaoningZhang/MobileSAM mobile_sam/modeling/tiny_vit_sam.py) and LiteMedSAM
// (bowang-lab/MedSAM, LiteMedSAM branch, tiny_vit_sam.py), with the official module tree, so state_dict keys,
// order and shapes are those of the released checkpoints (under `image_encoder.` there):
//
//   patch_embed.seq.{0,2}.{c,bn}              Conv2d_BN stem (seq.1 is GELU)
//   layers.0.blocks.M.conv{1,2,3}.{c,bn}      MBConv (1×1 expand, dw 3×3, 1×1 project; residual, then GELU)
//   layers.L.downsample.conv{1,2,3}.{c,bn}    PatchMerging after stages 0..2
//   layers.L.blocks.M.attn.{attention_biases, norm, qkv, proj}
//   layers.L.blocks.M.mlp.{norm, fc1, fc2}
//   layers.L.blocks.M.local_conv.{c,bn}       dw 3×3 Conv2d_BN between attention and MLP
//   norm_head, head                           unused classifier (MobileSAM checkpoints only)
//   neck.{0,1,2,3}                            1×1 conv, LayerNorm2d, 3×3 conv, LayerNorm2d → 256 channels
//
// Numerics as the reference: exact (erf) GELU everywhere, BatchNorm with running statistics in eval mode
// (eps 1e-5), LayerNorm eps 1e-5 inside attention and MLP, LayerNorm2d eps 1e-6 in the neck; windows are
// zero-padded bottom/right before the attention's LayerNorm and the padded tokens are not masked.
//
// Attention bias: the reference caches `ab = attention_biases[:, attention_bias_idxs]` when eval() runs, so a
// checkpoint loaded after eval() leaves a stale cache unless eval() is called again. Here there is no cache: the
// (heads, N, N) bias is gathered from the current attention_biases on every forward (a few hundred KB per block,
// far below the cost of the attention itself), so loading weights, optimizer steps or to(dtype) can never leave
// it stale. attention_bias_idxs is a non-persistent buffer, as in the reference (not in the state_dict).
import { type Tensor, F, tensor, tidy } from '../../engine/index.ts';
import {
  Module, ModuleList, Sequential, Conv2d, BatchNorm2d, LayerNorm, LayerNorm2d, Linear, GELU, init,
} from '../../nn/index.ts';
import { invalid } from '../../engine/validate.ts';

export interface TinyViTConfig {
  /** Side of the square input the encoder expects (1024 MobileSAM, 256 LiteMedSAM). */
  readonly imgSize: number;
  readonly inChans: number;
  /** Channels of the four stages. */
  readonly embedDims: readonly number[];
  /** Blocks per stage (stage 0: MBConv blocks; stages 1..3: TinyViT blocks). */
  readonly depths: readonly number[];
  /** Attention heads per stage (entry 0 unused: stage 0 has no attention). */
  readonly numHeads: readonly number[];
  /** Attention window side per stage (entry 0 unused). */
  readonly windowSizes: readonly number[];
  readonly mlpRatio: number;
  readonly mbconvExpandRatio: number;
  readonly localConvSize: number;
  /** Stem convolutions: 3 = two 3×3 stride-2 Conv2d_BN (÷4, MobileSAM); 1 = two 1×1 stride-1 (LiteMedSAM). */
  readonly stemKernel: 1 | 3;
  /**
   * Stride of the depthwise conv of the PatchMerging after stages 0, 1, 2. The reference uses 1 when the output
   * width is 320, 448 or 576 and 2 otherwise, i.e. [2, 2, 1] for TinyViT-5M.
   */
  readonly mergeStrides: readonly number[];
  /** Classes of the unused classifier (norm_head + head), kept so checkpoints load strictly; 0 = no classifier. */
  readonly numClasses: number;
  /** Channels of the output embedding (the neck). */
  readonly outChans: number;
}

/** MobileSAM's encoder (build_sam_vit_t): 1024² input → 256×64×64; 6,065,532 parameters (321,640 in the unused head). */
export const MOBILE_SAM_TINYVIT: TinyViTConfig = deepFreeze({
  imgSize: 1024, inChans: 3, embedDims: [64, 128, 160, 320], depths: [2, 2, 6, 2], numHeads: [2, 4, 5, 10],
  windowSizes: [7, 7, 14, 7], mlpRatio: 4, mbconvExpandRatio: 4, localConvSize: 3, stemKernel: 3,
  mergeStrides: [2, 2, 1], numClasses: 1000, outChans: 256,
});

/** LiteMedSAM's encoder: 256² input (1×1 stem, no ÷4) → 256×64×64; 5,726,740 parameters, no classifier. */
export const LITE_MEDSAM_TINYVIT: TinyViTConfig = deepFreeze({ ...MOBILE_SAM_TINYVIT, imgSize: 256, stemKernel: 1, numClasses: 0 });

function deepFreeze(c: TinyViTConfig): TinyViTConfig {
  return Object.freeze({
    ...c, embedDims: Object.freeze([...c.embedDims]), depths: Object.freeze([...c.depths]),
    numHeads: Object.freeze([...c.numHeads]), windowSizes: Object.freeze([...c.windowSizes]),
    mergeStrides: Object.freeze([...c.mergeStrides]),
  });
}

const fail = invalid; // sharp-style argument errors, as everywhere
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const KEYS: readonly (keyof TinyViTConfig)[] = [
  'imgSize', 'inChans', 'embedDims', 'depths', 'numHeads', 'windowSizes', 'mlpRatio', 'mbconvExpandRatio',
  'localConvSize', 'stemKernel', 'mergeStrides', 'numClasses', 'outChans',
];

/** Validates and freezes a TinyViT config; fields not given are taken from MOBILE_SAM_TINYVIT. */
export function tinyVitConfig(input: Partial<TinyViTConfig> = {}): TinyViTConfig {
  if (!input || typeof input !== 'object') throw fail('a TinyViT config object', 'config', input);
  for (const k of Object.keys(input)) if (!(KEYS as string[]).includes(k)) throw new TypeError(`unknown TinyViT config key "${k}" (known: ${KEYS.join(', ')})`);
  const c = { ...MOBILE_SAM_TINYVIT, ...input };
  for (const k of ['imgSize', 'inChans', 'localConvSize', 'outChans'] as const) if (!posInt(c[k])) throw fail('integer >= 1', k, c[k]);
  for (const k of ['embedDims', 'depths', 'numHeads', 'windowSizes'] as const) {
    if (!Array.isArray(c[k]) || c[k].length !== 4 || !c[k].every(posInt)) throw fail('a list of 4 integers >= 1', k, c[k]);
  }
  if (!Array.isArray(c.mergeStrides) || c.mergeStrides.length !== 3 || !c.mergeStrides.every((s) => s === 1 || s === 2)) {
    throw fail('a list of 3 strides (1 or 2)', 'mergeStrides', c.mergeStrides);
  }
  for (let i = 1; i < 4; i++) {
    if (c.embedDims[i]! % c.numHeads[i]! !== 0) throw new RangeError(`TinyViT: embedDims[${i}] = ${c.embedDims[i]} is not divisible by numHeads[${i}] = ${c.numHeads[i]}`);
  }
  if (c.localConvSize % 2 !== 1) throw fail('an odd integer', 'localConvSize', c.localConvSize);
  for (const k of ['mlpRatio', 'mbconvExpandRatio'] as const) if (typeof c[k] !== 'number' || !(c[k] > 0)) throw fail('a number > 0', k, c[k]);
  if (c.stemKernel !== 1 && c.stemKernel !== 3) throw fail('1 or 3', 'stemKernel', c.stemKernel);
  if (typeof c.numClasses !== 'number' || !Number.isInteger(c.numClasses) || c.numClasses < 0) throw fail('integer >= 0', 'numClasses', c.numClasses);
  return deepFreeze(c);
}

/** Conv2d (no bias) + BatchNorm2d, children `c` and `bn` (TinyViT's Conv2d_BN). */
export class Conv2dBN extends Module {
  readonly c: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(a: number, b: number, o: { ks?: number; stride?: number; pad?: number; groups?: number; bnWeightInit?: number } = {}) {
    super();
    this.c = this.registerModule('c', new Conv2d(a, b, o.ks ?? 1, { stride: o.stride ?? 1, padding: o.pad ?? 0, groups: o.groups ?? 1, bias: false }));
    this.bn = this.registerModule('bn', new BatchNorm2d(b));
    init.constant_(this.bn.weight!, o.bnWeightInit ?? 1);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.bn.forward(this.c.forward(x)));
  }
}

/** Inverted residual: 1×1 expand → GELU → dw 3×3 → GELU → 1×1 project (BN weight 0 at init) → + x → GELU. */
export class MBConv extends Module {
  readonly conv1: Conv2dBN;
  readonly act1: GELU;
  readonly conv2: Conv2dBN;
  readonly act2: GELU;
  readonly conv3: Conv2dBN;
  readonly act3: GELU;

  constructor(dim: number, expandRatio: number) {
    super();
    const hidden = Math.trunc(dim * expandRatio);
    this.conv1 = this.registerModule('conv1', new Conv2dBN(dim, hidden));
    this.act1 = this.registerModule('act1', new GELU());
    this.conv2 = this.registerModule('conv2', new Conv2dBN(hidden, hidden, { ks: 3, pad: 1, groups: hidden }));
    this.act2 = this.registerModule('act2', new GELU());
    this.conv3 = this.registerModule('conv3', new Conv2dBN(hidden, dim, { bnWeightInit: 0 }));
    this.act3 = this.registerModule('act3', new GELU());
  }

  /** x: [B, C, H, W] → same shape. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.act2.forward(this.conv2.forward(this.act1.forward(this.conv1.forward(x))));
      return this.act3.forward(this.conv3.forward(h).add(x));
    });
  }
}

/** 1×1 → GELU → dw 3×3 (stride 1 or 2) → GELU → 1×1, from a [B, C, H, W] grid to [B, H'·W', C'] tokens. */
export class PatchMerging extends Module {
  readonly act: GELU;
  readonly conv1: Conv2dBN;
  readonly conv2: Conv2dBN;
  readonly conv3: Conv2dBN;

  constructor(dim: number, outDim: number, readonly stride: number) {
    super();
    this.act = this.registerModule('act', new GELU());
    this.conv1 = this.registerModule('conv1', new Conv2dBN(dim, outDim));
    this.conv2 = this.registerModule('conv2', new Conv2dBN(outDim, outDim, { ks: 3, stride, pad: 1, groups: outDim }));
    this.conv3 = this.registerModule('conv3', new Conv2dBN(outDim, outDim));
  }

  /** x: [B, C, H, W] → [B, H'·W', C'] with H' = ceil(H / stride). */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.act.forward(this.conv2.forward(this.act.forward(this.conv1.forward(x))));
      return this.conv3.forward(h).flatten(2).transpose(1, 2);
    });
  }
}

/** LayerNorm → fc1 → GELU → fc2 (TinyViT's Mlp, which normalises its own input). */
export class TinyViTMlp extends Module {
  readonly norm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly act: GELU;

  constructor(dim: number, hidden: number) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(dim));
    this.fc1 = this.registerModule('fc1', new Linear(dim, hidden));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, dim));
    this.act = this.registerModule('act', new GELU());
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.fc2.forward(this.act.forward(this.fc1.forward(this.norm.forward(x)))));
  }
}

/** The reference's bias index: offsets (|Δrow|, |Δcol|) numbered in first-seen order over row-major window points. */
export function attentionBiasIndex(windowSize: number): { idxs: BigInt64Array; numOffsets: number } {
  const n = windowSize * windowSize;
  const seen = new Map<number, number>();
  const idxs = new BigInt64Array(n * n);
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      const key = Math.abs(Math.floor(p / windowSize) - Math.floor(q / windowSize)) * windowSize + Math.abs((p % windowSize) - (q % windowSize));
      let id = seen.get(key);
      if (id === undefined) { id = seen.size; seen.set(key, id); }
      idxs[p * n + q] = BigInt(id);
    }
  }
  return { idxs, numOffsets: seen.size };
}

/**
 * Window attention with a learned relative-position bias per head. qkv's output is viewed as
 * [B, N, heads, 3·d] and split per head into q | k | v (head-major, unlike SAM's ViT).
 */
export class TinyViTAttention extends Module {
  readonly keyDim: number;
  readonly scale: number;
  readonly attentionBiases: Tensor;
  readonly attentionBiasIdxs: Tensor;
  readonly norm: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(dim: number, readonly numHeads: number, readonly windowSize: number) {
    super();
    this.keyDim = dim / numHeads;
    this.scale = this.keyDim ** -0.5;
    const { idxs, numOffsets } = attentionBiasIndex(windowSize);
    const n = windowSize * windowSize;
    this.attentionBiases = this.registerParameter('attention_biases', tensor(new Float32Array(numHeads * numOffsets), [numHeads, numOffsets]));
    this.attentionBiasIdxs = this.registerBuffer('attention_bias_idxs', tensor(idxs, [n, n]), false);
    this.norm = this.registerModule('norm', new LayerNorm(dim));
    this.qkv = this.registerModule('qkv', new Linear(dim, 3 * dim));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
  }

  /** attention_biases[:, attention_bias_idxs]: [heads, N, N], from the current parameter values (never cached). */
  attentionBias(): Tensor {
    return this.attentionBiases.index([null, this.attentionBiasIdxs]);
  }

  /** x: [B, N, C] tokens of B windows (N = windowSize²) → [B, N, C]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const [b, n, c] = x.shape as [number, number, number];
      const qkv = this.qkv.forward(this.norm.forward(x)).view(b, n, this.numHeads, 3 * this.keyDim);
      const [q, k, v] = qkv.split(this.keyDim, 3).map((t) => t.permute(0, 2, 1, 3)) as [Tensor, Tensor, Tensor];
      const logits = q.matmul(k.transpose(-2, -1)).mul(this.scale).add(this.attentionBias());
      const out = F.softmax(logits, -1).matmul(v).transpose(1, 2).reshape(b, n, c);
      return this.proj.forward(out);
    });
  }

  override extraRepr(): string {
    return `heads=${this.numHeads}, window_size=${this.windowSize}`;
  }
}

/** x + WindowAttention(x) → depthwise local conv on the grid (no residual) → x + Mlp(x). */
export class TinyViTBlock extends Module {
  readonly attn: TinyViTAttention;
  readonly mlp: TinyViTMlp;
  readonly localConv: Conv2dBN;

  constructor(dim: number, numHeads: number, readonly windowSize: number, mlpRatio: number, localConvSize: number) {
    super();
    this.attn = this.registerModule('attn', new TinyViTAttention(dim, numHeads, windowSize));
    this.mlp = this.registerModule('mlp', new TinyViTMlp(dim, Math.trunc(dim * mlpRatio)));
    this.localConv = this.registerModule('local_conv', new Conv2dBN(dim, dim, { ks: localConvSize, pad: localConvSize >> 1, groups: dim }));
  }

  /** x: [B, H·W, C] tokens of an H×W grid → same shape. */
  forward(x: Tensor, h: number, w: number): Tensor {
    return tidy(() => {
      const [b, l, c] = x.shape as [number, number, number];
      if (l !== h * w) throw new RangeError(`TinyViTBlock: expected ${h}×${w} = ${h * w} tokens but received ${l}`);
      const y = x.add(this.#windowAttention(x, b, h, w, c));
      const grid = this.localConv.forward(y.transpose(1, 2).reshape(b, c, h, w));
      const z = grid.view(b, c, l).transpose(1, 2);
      return z.add(this.mlp.forward(z));
    });
  }

  #windowAttention(x: Tensor, b: number, h: number, w: number, c: number): Tensor {
    const ws = this.windowSize;
    if (h === ws && w === ws) return this.attn.forward(x);
    const padB = (ws - (h % ws)) % ws;
    const padR = (ws - (w % ws)) % ws;
    let t = x.view(b, h, w, c);
    if (padB > 0 || padR > 0) t = F.pad(t, [0, 0, 0, padR, 0, padB]);
    const ph = h + padB, pw = w + padR, nh = ph / ws, nw = pw / ws;
    const windows = t.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c);
    let out = this.attn.forward(windows).view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c);
    if (padB > 0 || padR > 0) out = out.slice(1, 0, h).slice(2, 0, w);
    return out.reshape(b, h * w, c);
  }
}

/** Stage 0: MBConv blocks on the [B, C, H, W] grid, then PatchMerging to tokens. */
export class ConvLayer extends Module {
  readonly blocks: ModuleList<MBConv>;
  readonly downsample: PatchMerging;

  constructor(dim: number, depth: number, expandRatio: number, outDim: number, mergeStride: number) {
    super();
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: depth }, () => new MBConv(dim, expandRatio))));
    this.downsample = this.registerModule('downsample', new PatchMerging(dim, outDim, mergeStride));
  }

  /** x: [B, C, H, W] → [B, H'·W', C'] tokens. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      for (const blk of this.blocks) y = blk.forward(y);
      return this.downsample.forward(y);
    });
  }
}

/** Stages 1..3: TinyViT blocks on tokens, then (stages 1, 2) PatchMerging. */
export class BasicLayer extends Module {
  readonly blocks: ModuleList<TinyViTBlock>;
  readonly downsample: PatchMerging | null;

  constructor(dim: number, depth: number, numHeads: number, windowSize: number, mlpRatio: number, localConvSize: number,
    merge: { outDim: number; stride: number } | null) {
    super();
    const blocks = Array.from({ length: depth }, () => new TinyViTBlock(dim, numHeads, windowSize, mlpRatio, localConvSize));
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.downsample = this.registerModule('downsample', merge ? new PatchMerging(dim, merge.outDim, merge.stride) : null);
  }

  /** x: [B, H·W, C] → tokens of the next grid (or the same grid for the last stage). */
  forward(x: Tensor, h: number, w: number): Tensor {
    return tidy(() => {
      let y = x;
      for (const blk of this.blocks) y = blk.forward(y, h, w);
      if (!this.downsample) return y;
      const [b, , c] = y.shape as [number, number, number];
      return this.downsample.forward(y.view(b, h, w, c).permute(0, 3, 1, 2));
    });
  }
}

/** The stem (`seq`: Conv2d_BN, GELU, Conv2d_BN): [B, 3, H, W] → [B, C0, H/4, W/4] (or H, W for the 1×1 stem). */
export class TinyViTPatchEmbed extends Module {
  readonly seq: Sequential;

  constructor(seq: Sequential) {
    super();
    this.seq = this.registerModule('seq', seq);
  }

  forward(x: Tensor): Tensor {
    return this.seq.forward(x);
  }
}

const convOut = (size: number, stride: number): number => Math.floor((size - 1) / stride) + 1; // k3 p1 or k1 p0

/**
 * TinyViT image encoder. forward: [B, inChans, imgSize, imgSize] normalised, padded image (float32) →
 * [B, outChans, imgSize/16, imgSize/16] embedding for MobileSAM (imgSize/4 for LiteMedSAM's stride-1 stem), i.e.
 * [B, 256, 64, 64] for both presets. Fresh weights follow the reference init (Linear trunc-normal std 0.02 with zero
 * bias, BatchNorm weight 1 (0 for MBConv's conv3) and bias 0, attention biases 0); the module starts in training
 * mode like any Module: call eval() for inference (BatchNorm running statistics).
 */
export class TinyViT extends Module {
  readonly config: TinyViTConfig;
  readonly patchEmbed: TinyViTPatchEmbed;
  readonly layers: ModuleList<ConvLayer | BasicLayer>;
  readonly normHead: LayerNorm | null;
  readonly head: Linear | null;
  readonly neck: Sequential;

  constructor(config: Partial<TinyViTConfig> = MOBILE_SAM_TINYVIT) {
    super();
    const c = tinyVitConfig(config);
    this.config = c;
    const k = c.stemKernel, s = k === 3 ? 2 : 1, p = k === 3 ? 1 : 0;
    const d = c.embedDims;
    const seq = new Sequential(
      new Conv2dBN(c.inChans, d[0]! >> 1, { ks: k, stride: s, pad: p }), new GELU(), new Conv2dBN(d[0]! >> 1, d[0]!, { ks: k, stride: s, pad: p }),
    );
    this.patchEmbed = this.registerModule('patch_embed', new TinyViTPatchEmbed(seq));
    const layers: (ConvLayer | BasicLayer)[] = [new ConvLayer(d[0]!, c.depths[0]!, c.mbconvExpandRatio, d[1]!, c.mergeStrides[0]!)];
    for (let i = 1; i < 4; i++) {
      const merge = i < 3 ? { outDim: d[i + 1]!, stride: c.mergeStrides[i]! } : null;
      layers.push(new BasicLayer(d[i]!, c.depths[i]!, c.numHeads[i]!, c.windowSizes[i]!, c.mlpRatio, c.localConvSize, merge));
    }
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.normHead = this.registerModule('norm_head', c.numClasses > 0 ? new LayerNorm(d[3]!) : null);
    this.head = this.registerModule('head', c.numClasses > 0 ? new Linear(d[3]!, c.numClasses) : null);
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.truncNormal_(m.weight, { std: 0.02 });
        if (m.bias) init.zeros_(m.bias);
      }
    }
    this.neck = this.registerModule('neck', new Sequential(
      new Conv2d(d[3]!, c.outChans, 1, { bias: false }), new LayerNorm2d(c.outChans),
      new Conv2d(c.outChans, c.outChans, 3, { padding: 1, bias: false }), new LayerNorm2d(c.outChans),
    ));
  }

  /** Side of the output embedding grid for this config (64 for both presets). */
  get embeddingSize(): number {
    const c = this.config;
    let side = c.stemKernel === 3 ? convOut(convOut(c.imgSize, 2), 2) : c.imgSize;
    for (const st of c.mergeStrides) side = convOut(side, st);
    return side;
  }

  /** x: [B, inChans, imgSize, imgSize] float (normalised, zero-padded) → [B, outChans, S, S], S = embeddingSize. */
  forward(x: Tensor): Tensor {
    const c = this.config;
    const shape = x.shape;
    if (shape.length !== 4 || shape[1] !== c.inChans || shape[2] !== c.imgSize || shape[3] !== c.imgSize) {
      throw new RangeError(`TinyViT: expected input [B, ${c.inChans}, ${c.imgSize}, ${c.imgSize}] but received [${shape.join(', ')}]`);
    }
    return tidy(() => {
      const stem = this.patchEmbed.forward(x);
      let [h, w] = [stem.shape[2]!, stem.shape[3]!];
      let y = (this.layers.at(0) as ConvLayer).forward(stem);
      [h, w] = [convOut(h, c.mergeStrides[0]!), convOut(w, c.mergeStrides[0]!)];
      for (let i = 1; i < 4; i++) {
        y = (this.layers.at(i) as BasicLayer).forward(y, h, w);
        if (i < 3) [h, w] = [convOut(h, c.mergeStrides[i]!), convOut(w, c.mergeStrides[i]!)];
      }
      const b = y.shape[0]!;
      return this.neck.forward(y.view(b, h, w, y.shape[2]!).permute(0, 3, 1, 2));
    });
  }
}
