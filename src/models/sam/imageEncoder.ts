// SAM's ViT image encoder (segment_anything/modeling/image_encoder.py, adapted there from ViTDet): a 16×16 patch
// embedding, an absolute position embedding, transformer blocks with windowed (14×14) or global attention and
// decomposed relative positions, and a conv/LayerNorm2d neck. Module and parameter names are the official ones,
// so official checkpoints load unchanged:
//
//   pos_embed                      1 × (imgSize/patch) × (imgSize/patch) × D
//   patch_embed.proj.{weight,bias} conv D×3×16×16
//   blocks.N.norm1 / norm2         LayerNorm(D, eps 1e-6)
//   blocks.N.attn.rel_pos_h / _w   (2·S − 1) × headDim, S = window size (windowed) or token grid (global)
//   blocks.N.attn.qkv / proj       Linear(D, 3D) with rows [q; k; v] each head-major, Linear(D, D)
//   blocks.N.mlp.lin1 / lin2       Linear(D, 4D), GELU (exact erf), Linear(4D, D)
//   neck.0..3                      conv 1×1 (no bias), LayerNorm2d, conv 3×3 pad 1 (no bias), LayerNorm2d
//
// The op sequence follows the official code (views and permutes where it uses them) so that float32 results agree
// to rounding; the relative-position terms are added in place to the attention logits.
import { type Tensor, F, tidy, zeros } from '../../engine/index.ts';
import { Conv2d, GELU, LayerNorm, LayerNorm2d, Linear, MLPBlock, Module, ModuleList, Sequential, type UnaryModule } from '../../nn/index.ts';
import { checkPositiveInt, expected, int64Tensor } from './common.ts';

export interface ImageEncoderViTOptions {
  /** Square input side in pixels (1024). */
  imgSize?: number;
  patchSize?: number;
  inChans?: number;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  mlpRatio?: number;
  /** Channels of the output embedding (the prompt dimension, 256). */
  outChans?: number;
  qkvBias?: boolean;
  /** eps of the blocks' LayerNorms (the official builders use 1e-6). */
  layerNormEps?: number;
  useAbsPos?: boolean;
  useRelPos?: boolean;
  /** Window side for windowed blocks; 0 makes every block global. */
  windowSize?: number;
  /** Blocks that attend globally over the whole token grid. */
  globalAttnIndexes?: readonly number[];
}

/** Conv patch embedding: Bx3xHxW → BxH'xW'xD (a permuted view of the conv output, as the official code). */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;

  constructor(inChans: number, embedDim: number, patchSize: number) {
    super();
    this.proj = this.registerModule('proj', new Conv2d(inChans, embedDim, patchSize, { stride: patchSize }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.proj.forward(x).permute(0, 2, 3, 1));
  }
}

/**
 * Padded window partition: BxHxWxC → (B·nWin)×ws×ws×C, zero-padding bottom/right to a multiple of ws (padded
 * tokens are not masked later, as in the official code). Returns the windows and the padded (Hp, Wp).
 */
export function windowPartition(x: Tensor, ws: number): { windows: Tensor; padHw: [number, number] } {
  return tidy(() => {
    const [B, H, W, C] = x.shape as [number, number, number, number];
    const padH = (ws - (H % ws)) % ws;
    const padW = (ws - (W % ws)) % ws;
    const xp = padH > 0 || padW > 0 ? F.pad(x, [0, 0, 0, padW, 0, padH]) : x;
    const Hp = H + padH, Wp = W + padW;
    const windows = xp.view(B, Hp / ws, ws, Wp / ws, ws, C).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C);
    return { windows, padHw: [Hp, Wp] as [number, number] };
  });
}

/** Inverse of windowPartition: (B·nWin)×ws×ws×C → BxHxWxC with the padding cropped off. */
export function windowUnpartition(windows: Tensor, ws: number, padHw: [number, number], hw: [number, number]): Tensor {
  return tidy(() => {
    const [Hp, Wp] = padHw;
    const [H, W] = hw;
    const B = windows.shape[0]! / ((Hp * Wp) / ws / ws);
    const x = windows.view(B, Hp / ws, Wp / ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1);
    return Hp > H || Wp > W ? x.slice(1, 0, H).slice(2, 0, W).contiguous() : x;
  });
}

/**
 * The relative-position indices of get_rel_pos: idx[i, j] = trunc(i·max(k/q, 1) − j·max(q/k, 1) + (k−1)·max(q/k, 1)),
 * evaluated in float32 as torch does (int arange times a Python float gives float32).
 */
export function relPosIndex(qSize: number, kSize: number): Int32Array {
  const f = Math.fround;
  const qScale = f(Math.max(kSize / qSize, 1)), kScale = f(Math.max(qSize / kSize, 1));
  const offset = f((kSize - 1) * Math.max(qSize / kSize, 1));
  const out = new Int32Array(qSize * kSize);
  for (let i = 0; i < qSize; i++) {
    for (let j = 0; j < kSize; j++) out[i * kSize + j] = Math.trunc(f(f(f(i * qScale) - f(j * kScale)) + offset));
  }
  return out;
}

/**
 * get_rel_pos: the q×k×C table of relative-position embeddings. A table whose length is not 2·max(q, k) − 1 is
 * first resampled along its length with 1-D linear interpolation (align_corners false), as the official code.
 */
export function getRelPos(qSize: number, kSize: number, relPos: Tensor): Tensor {
  return tidy(() => {
    const maxRelDist = 2 * Math.max(qSize, kSize) - 1;
    const L = relPos.shape[0]!;
    const resized = L === maxRelDist ? relPos
      : F.interpolate(relPos.reshape(1, L, -1).permute(0, 2, 1), { size: [maxRelDist], mode: 'linear' }).reshape(-1, maxRelDist).permute(1, 0);
    return resized.index([int64Tensor(relPosIndex(qSize, kSize), [qSize, kSize])]);
  });
}

/**
 * Adds the decomposed relative positions (MViTv2) to attention logits in place: attn viewed as
 * B×qh×qw×kh×kw gets + rel_h[…, None] + rel_w[…, None, :], with rel_h = einsum('bhwc,hkc->bhwk', q, Rh) from
 * the unscaled queries. attn: B×(qh·qw)×(kh·kw) contiguous; q: B×(qh·qw)×C. Returns attn.
 */
export function addDecomposedRelPos(attn: Tensor, q: Tensor, relPosH: Tensor, relPosW: Tensor, qSize: [number, number], kSize: [number, number]): Tensor {
  tidy(() => {
    const [qh, qw] = qSize, [kh, kw] = kSize;
    const Rh = getRelPos(qh, kh, relPosH);
    const Rw = getRelPos(qw, kw, relPosW);
    const [B, , dim] = q.shape as [number, number, number];
    const rq = q.reshape(B, qh, qw, dim);
    const relH = F.einsum('bhwc,hkc->bhwk', rq, Rh);
    const relW = F.einsum('bhwc,wkc->bhwk', rq, Rw);
    attn.view(B, qh, qw, kh, kw).add_(relH.unsqueeze(4)).add_(relW.unsqueeze(3));
  });
  return attn;
}

/** Multi-head self-attention over a token grid with optional decomposed relative positions. */
export class ViTAttention extends Module {
  readonly numHeads: number;
  readonly scale: number;
  readonly useRelPos: boolean;
  readonly relPosH: Tensor | null;
  readonly relPosW: Tensor | null;
  readonly qkv: Linear;
  readonly proj: Linear;

  /** inputSize: the (H, W) token grid this attention sees (window or full grid); sizes the rel-pos tables. */
  constructor(dim: number, numHeads: number, o: { qkvBias?: boolean; useRelPos?: boolean; inputSize?: [number, number] } = {}) {
    super();
    this.numHeads = numHeads;
    const headDim = Math.floor(dim / numHeads);
    this.scale = headDim ** -0.5;
    this.useRelPos = o.useRelPos ?? false;
    const size = o.inputSize;
    if (this.useRelPos && !size) throw new TypeError('ViTAttention: inputSize must be given when useRelPos is true');
    // Official init: zeros (rel_pos_zero_init is ignored there).
    this.relPosH = this.registerParameter('rel_pos_h', this.useRelPos ? zeros([2 * size![0] - 1, headDim]) : null);
    this.relPosW = this.registerParameter('rel_pos_w', this.useRelPos ? zeros([2 * size![1] - 1, headDim]) : null);
    this.qkv = this.registerModule('qkv', new Linear(dim, dim * 3, { bias: o.qkvBias ?? true }));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
  }

  /** x: BxHxWxC tokens → BxHxWxC. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const [B, H, W] = x.shape as [number, number, number, number];
      const nh = this.numHeads;
      const qkv = this.qkv.forward(x).reshape(B, H * W, 3, nh, -1).permute(2, 0, 3, 1, 4);
      const [q, k, v] = qkv.reshape(3, B * nh, H * W, -1).unbind(0) as [Tensor, Tensor, Tensor];
      const attn = q.mul(this.scale).matmul(k.transpose(-2, -1));
      if (this.useRelPos) addDecomposedRelPos(attn, q, this.relPosH!, this.relPosW!, [H, W], [H, W]);
      const probs = F.softmax(attn, -1);
      attn.dispose(); // the logits are the largest tensor here (B·heads × HW × HW): free before the next matmul
      const out = probs.matmul(v);
      probs.dispose();
      return this.proj.forward(out.view(B, nh, H, W, -1).permute(0, 2, 3, 1, 4).reshape(B, H, W, -1));
    });
  }
}

/** The adapters of a block (peft.ts addAdapters): unary modules with MSA's Space / MLP / Depth roles. */
export interface BlockAdapters {
  space: UnaryModule;
  mlp: UnaryModule;
  depth: Module | null;
  mlpScale: number;
  partitionBeforeNorm: boolean;
}

/** Pre-norm transformer block; windowSize > 0 attends within padded windows, 0 globally. */
export class ViTBlock extends Module {
  readonly windowSize: number;
  readonly norm1: LayerNorm;
  readonly attn: ViTAttention;
  readonly norm2: LayerNorm;
  readonly mlp: MLPBlock;
  #adapters: BlockAdapters | null = null;

  constructor(dim: number, numHeads: number, o: {
    mlpRatio?: number; qkvBias?: boolean; layerNormEps?: number; useRelPos?: boolean; windowSize?: number; inputSize: [number, number];
  }) {
    super();
    const eps = o.layerNormEps ?? 1e-6;
    this.windowSize = o.windowSize ?? 0;
    const ws = this.windowSize;
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps }));
    this.attn = this.registerModule('attn', new ViTAttention(dim, numHeads, {
      qkvBias: o.qkvBias, useRelPos: o.useRelPos, inputSize: ws === 0 ? o.inputSize : [ws, ws],
    }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, { eps }));
    this.mlp = this.registerModule('mlp', new MLPBlock(dim, Math.trunc(dim * (o.mlpRatio ?? 4)), () => new GELU()));
  }

  /** Registers MSA adapters (Space_Adapter, MLP_Adapter, Depth_Adapter) under their published names. */
  setAdapters(a: BlockAdapters): void {
    this.registerModule('Space_Adapter', a.space);
    this.registerModule('MLP_Adapter', a.mlp);
    if (a.depth) this.registerModule('Depth_Adapter', a.depth);
    this.#adapters = a;
  }

  /** The Medical-SAM-Adapter layout (Space_Adapter, MLP_Adapter, Depth_Adapter), when added. */
  get adapters(): BlockAdapters | null {
    return this.#adapters;
  }

  /** x: BxHxWxC → BxHxWxC. */
  forward(x: Tensor): Tensor {
    if (this.#adapters) return this.forwardWithAdapters(x, this.#adapters);
    return tidy(() => {
      const ws = this.windowSize;
      let h = this.norm1.forward(x);
      if (ws > 0) {
        const hw: [number, number] = [x.shape[1]!, x.shape[2]!];
        const { windows, padHw } = windowPartition(h, ws);
        h = windowUnpartition(this.attn.forward(windows), ws, padHw, hw);
      } else {
        h = this.attn.forward(h);
      }
      const y = x.add(h);
      return y.add(this.mlp.forward(this.norm2.forward(y)));
    });
  }

  // MSA's AdapterBlock: x + Space_Adapter(attn(norm1 x)); then + mlp(xn) + scale · MLP_Adapter(xn).
  private forwardWithAdapters(x: Tensor, a: BlockAdapters): Tensor {
    return tidy(() => {
      const ws = this.windowSize;
      const hw: [number, number] = [x.shape[1]!, x.shape[2]!];
      const attend = (t: Tensor): Tensor => a.space.forward(this.attn.forward(t));
      let h: Tensor;
      if (ws === 0) {
        h = attend(this.norm1.forward(x));
      } else if (a.partitionBeforeNorm) {
        const { windows, padHw } = windowPartition(x, ws); // padded tokens pass through norm1 (published quirk)
        h = windowUnpartition(attend(this.norm1.forward(windows)), ws, padHw, hw);
      } else {
        const { windows, padHw } = windowPartition(this.norm1.forward(x), ws);
        h = windowUnpartition(attend(windows), ws, padHw, hw);
      }
      const y = x.add(h);
      const yn = this.norm2.forward(y);
      return y.add(this.mlp.forward(yn)).add(a.mlp.forward(yn).mul(a.mlpScale));
    });
  }
}

/** SAM's ViT image encoder: Bx3xSxS normalised, padded images (S = imgSize) → Bx(outChans)x(S/16)x(S/16). */
export class ImageEncoderViT extends Module {
  readonly imgSize: number;
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly posEmbed: Tensor | null;
  readonly patchEmbed: PatchEmbed;
  readonly blocks: ModuleList<ViTBlock>;
  readonly neck: Sequential;

  constructor(o: ImageEncoderViTOptions = {}) {
    super();
    this.imgSize = checkPositiveInt(o.imgSize ?? 1024, 'imgSize');
    this.patchSize = checkPositiveInt(o.patchSize ?? 16, 'patchSize');
    this.inChans = checkPositiveInt(o.inChans ?? 3, 'inChans');
    this.embedDim = checkPositiveInt(o.embedDim ?? 768, 'embedDim');
    const depth = checkPositiveInt(o.depth ?? 12, 'depth');
    const numHeads = checkPositiveInt(o.numHeads ?? 12, 'numHeads');
    const outChans = checkPositiveInt(o.outChans ?? 256, 'outChans');
    const windowSize = o.windowSize ?? 0;
    if (!Number.isInteger(windowSize) || windowSize < 0) throw expected('integer >= 0', 'windowSize', windowSize);
    const globals = o.globalAttnIndexes ?? [];
    if (!Array.isArray(globals) || !globals.every((i) => Number.isInteger(i) && i >= 0 && i < depth)) {
      throw expected(`a list of block indexes between 0 and ${depth - 1}`, 'globalAttnIndexes', globals);
    }
    const grid = Math.floor(this.imgSize / this.patchSize);
    const D = this.embedDim;
    this.posEmbed = this.registerParameter('pos_embed', o.useAbsPos ?? true ? zeros([1, grid, grid, D]) : null);
    this.patchEmbed = this.registerModule('patch_embed', new PatchEmbed(this.inChans, D, this.patchSize));
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: depth }, (_, i) => new ViTBlock(D, numHeads, {
      mlpRatio: o.mlpRatio, qkvBias: o.qkvBias, layerNormEps: o.layerNormEps, useRelPos: o.useRelPos,
      windowSize: globals.includes(i) ? 0 : windowSize, inputSize: [grid, grid],
    }))));
    this.neck = this.registerModule('neck', new Sequential(
      new Conv2d(D, outChans, 1, { bias: false }),
      new LayerNorm2d(outChans),
      new Conv2d(outChans, outChans, 3, { padding: 1, bias: false }),
      new LayerNorm2d(outChans),
    ));
  }

  /** x: Bx3xSxS (normalised, padded) → image embedding Bx(outChans)x(S/patch)x(S/patch). */
  forward(x: Tensor): Tensor {
    const S = this.imgSize, s = x.shape;
    // The absolute position embedding fixes the token grid, hence the input size.
    if (s.length !== 4 || s[1] !== this.inChans || (this.posEmbed && (s[2] !== S || s[3] !== S))) {
      throw new RangeError(`Expected a Bx${this.inChans}x${S}x${S} tensor for x but received shape [${s.join(', ')}]`);
    }
    return tidy(() => {
      let h = this.patchEmbed.forward(x);
      if (this.posEmbed) h = h.add(this.posEmbed);
      for (const blk of this.blocks) {
        const next = blk.forward(h);
        h.dispose(); // each block's input is dead once it has run: keeps the peak at one block's worth
        h = next;
      }
      return this.neck.forward(h.permute(0, 3, 1, 2));
    });
  }
}
