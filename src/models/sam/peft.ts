// Parameter-efficient tuning of SAM's ViT image encoder, in the published layouts (../shared/reference/sam.md §6):
//
// - Adapters as Medical-SAM-Adapter and SC-SAM build them: per block a `Space_Adapter` on the attention output
//   (with its own skip) and a `MLP_Adapter` parallel to the MLP scaled by 0.5 (no skip); `Depth_Adapter` is only
//   constructed (MSA / SC-SAM build it in 2D too, so their checkpoints load strictly) and never used here.
//   Adapter = D_fc1 Linear(D → 0.25·D) → GELU → D_fc2 Linear(0.25·D → D). Published quirk, kept behind a switch:
//   MSA partitions windows before norm1, so padded tokens become the LayerNorm bias (partitionBeforeNorm: true).
// - LoRA on qkv as Sam_LoRA (JamesQFreeman/Sam_LoRA): rank-r A (kaiming-uniform a=√5) and B (zeros) for q and for v,
//   added to the first and last D output channels; no α/r scaling by default. Here the wrapped layer keeps the
//   official parameter names (blocks.N.attn.qkv.weight/bias), so SAM checkpoints still load, and the LoRA factors
//   sit beside them as blocks.N.attn.qkv.linear_{a,b}_{q,v}.weight. Sam_LoRA's own safetensors file (w_a_###,
//   w_b_###, q then v per block) is read and written by saveSamLoRA / loadSamLoRA; mergeLoRA folds the factors
//   into qkv.weight so the result is a plain SAM checkpoint again.
// - trainableStateDict / saveTrainable: only the parameters that require grad (after freeze / unfreeze by pattern).
import { type Tensor, F, dispose, noGrad, tidy, zeros } from '../../engine/index.ts';
import { saveCheckpoint, saveSafetensors, loadStateDict } from '../../engine/serialization/index.ts';
import { GELU, Linear, Module, init } from '../../nn/index.ts';
import type { Sam } from './sam.ts';
import { ImageEncoderViT, type ViTAttention } from './imageEncoder.ts';

/** MSA's Adapter: x + fc2(GELU(fc1(x))) with skipConnect, else fc2(GELU(fc1(x))). */
export class SamAdapter extends Module {
  readonly D_fc1: Linear;
  readonly D_fc2: Linear;
  readonly act: GELU;
  readonly skipConnect: boolean;

  constructor(dim: number, o: { mlpRatio?: number; skipConnect?: boolean } = {}) {
    super();
    const hidden = Math.trunc(dim * (o.mlpRatio ?? 0.25));
    this.skipConnect = o.skipConnect ?? true;
    this.D_fc1 = this.registerModule('D_fc1', new Linear(dim, hidden));
    this.D_fc2 = this.registerModule('D_fc2', new Linear(hidden, dim));
    this.act = new GELU(); // parameter-free; not registered, as in MSA (act is an attribute there too, no state)
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const xs = this.D_fc2.forward(this.act.forward(this.D_fc1.forward(x)));
      return this.skipConnect ? x.add(xs) : xs;
    });
  }
}

export interface AdapterOptions {
  /** Hidden width as a fraction of the embedding dim (0.25). */
  mlpRatio?: number;
  /** Weight of the MLP adapter's output (0.5). */
  mlpScale?: number;
  /** Also construct the (unused in 2D) Depth_Adapter, so MSA / SC-SAM checkpoints load strictly (default true). */
  depthAdapter?: boolean;
  /** MSA's order: window partition before norm1 (published: true); false = SAM's order (norm, then pad). */
  partitionBeforeNorm?: boolean;
}

/** Adds MSA / SC-SAM adapters to every block of a ViT encoder (new parameters trainable). Returns their names. */
export function addAdapters(encoder: ImageEncoderViT, o: AdapterOptions = {}): string[] {
  if (!(encoder instanceof ImageEncoderViT)) throw new TypeError('addAdapters: expected a SAM ViT image encoder (TinyViT has no adapter layout)');
  const D = encoder.embedDim;
  for (const block of encoder.blocks) {
    if (block.adapters) throw new Error('addAdapters: the encoder already has adapters');
    block.setAdapters({
      space: new SamAdapter(D, { mlpRatio: o.mlpRatio }),
      mlp: new SamAdapter(D, { mlpRatio: o.mlpRatio, skipConnect: false }),
      depth: o.depthAdapter ?? true ? new SamAdapter(D, { mlpRatio: o.mlpRatio }) : null,
      mlpScale: o.mlpScale ?? 0.5,
      partitionBeforeNorm: o.partitionBeforeNorm ?? true,
    });
  }
  return encoder.namedParameters().map(([n]) => n).filter((n) => n.includes('_Adapter.'));
}

/** qkv Linear(D, 3D) with rank-r LoRA on the q and v outputs: y = W x + b + [s·B_q A_q x; 0; s·B_v A_v x]. */
export class LoRAQkv extends Linear {
  readonly rank: number;
  readonly scaling: number;
  readonly linear_a_q: Linear;
  readonly linear_b_q: Linear;
  readonly linear_a_v: Linear;
  readonly linear_b_v: Linear;

  /** Takes a copy of base's weight and bias (and their requiresGrad); the caller disposes base. */
  constructor(base: Linear, rank: number, o: { alpha?: number } = {}) {
    super(base.inFeatures, base.outFeatures, { bias: base.bias !== null });
    if (base.outFeatures !== 3 * base.inFeatures) throw new RangeError(`LoRAQkv: expected a qkv Linear(D, 3D) but received Linear(${base.inFeatures}, ${base.outFeatures})`);
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`Expected a positive integer for the LoRA rank but received ${rank}`);
    this.rank = rank;
    this.scaling = (o.alpha ?? rank) / rank; // Sam_LoRA adds B A x unscaled: alpha = rank
    noGrad(() => {
      this.weight.copy_(base.weight);
      if (this.bias && base.bias) this.bias.copy_(base.bias);
    });
    this.weight.requiresGrad_(base.weight.requiresGrad);
    this.bias?.requiresGrad_(base.bias!.requiresGrad);
    const D = base.inFeatures;
    const factor = (name: string, inF: number, outF: number, zero: boolean): Linear => {
      const l = this.registerModule(name, new Linear(inF, outF, { bias: false }));
      if (zero) noGrad(() => l.weight.zero_());
      else init.kaimingUniform_(l.weight, { a: Math.sqrt(5) });
      return l;
    };
    this.linear_a_q = factor('linear_a_q', D, rank, false);
    this.linear_b_q = factor('linear_b_q', rank, D, true);
    this.linear_a_v = factor('linear_a_v', D, rank, false);
    this.linear_b_v = factor('linear_b_v', rank, D, true);
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => {
      const base = F.linear(x, this.weight, this.bias);
      const D = this.inFeatures;
      let q = this.linear_b_q.forward(this.linear_a_q.forward(x));
      let v = this.linear_b_v.forward(this.linear_a_v.forward(x));
      if (this.scaling !== 1) { q = q.mul(this.scaling); v = v.mul(this.scaling); }
      return base.add(F.cat([q, zeros([...q.shape], { dtype: q.dtype }), v], -1));
    });
  }

  /** W + [s·B_q A_q; 0; s·B_v A_v]: the plain qkv weight with the update folded in. */
  mergedWeight(): Tensor {
    return noGrad(() => tidy(() => {
      const D = this.inFeatures;
      const dq = this.linear_b_q.weight.matmul(this.linear_a_q.weight).mul(this.scaling);
      const dv = this.linear_b_v.weight.matmul(this.linear_a_v.weight).mul(this.scaling);
      return this.weight.add(F.cat([dq, zeros([D, D], { dtype: dq.dtype }), dv], 0));
    }));
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, lora_rank=${this.rank}, lora_scaling=${this.scaling}`;
  }
}

export interface LoRAOptions {
  rank?: number;
  /** Scaling alpha / rank (default alpha = rank: Sam_LoRA's unscaled update). */
  alpha?: number;
  /** Blocks to adapt (default all, as Sam_LoRA). */
  blocks?: number[];
}

const encoderOf = (m: Sam | ImageEncoderViT): ImageEncoderViT => {
  const enc = m instanceof ImageEncoderViT ? m : (m as Sam).imageEncoder;
  if (!(enc instanceof ImageEncoderViT)) throw new TypeError('LoRA: expected a SAM ViT image encoder (TinyViT has no qkv layout of this kind)');
  return enc;
};

/** Wraps blocks.N.attn.qkv with LoRA; returns the names of the new (trainable) parameters. */
export function addLoRA(model: Sam | ImageEncoderViT, o: LoRAOptions = {}): string[] {
  const enc = encoderOf(model);
  const rank = o.rank ?? 4;
  const blocks = o.blocks ?? [...enc.blocks].map((_, i) => i);
  for (const i of blocks) {
    if (!Number.isInteger(i) || i < 0 || i >= enc.blocks.length) throw new RangeError(`addLoRA: no block ${i} (the encoder has ${enc.blocks.length})`);
    const attn: ViTAttention = enc.blocks.at(i).attn;
    if (attn.qkv instanceof LoRAQkv) throw new Error(`addLoRA: block ${i} already has LoRA`);
    const lora = new LoRAQkv(attn.qkv, rank, { alpha: o.alpha });
    attn.replaceModule('qkv', lora)!.dispose();
  }
  const prefix = model instanceof ImageEncoderViT ? '' : 'image_encoder.';
  return enc.namedParameters().map(([n]) => n).filter((n) => /\.linear_[ab]_[qv]\./.test(n)).map((n) => prefix + n);
}

/** Folds every LoRA update into its qkv weight and restores plain Linear layers (official SAM keys again). */
export function mergeLoRA(model: Sam | ImageEncoderViT): number {
  const enc = encoderOf(model);
  let merged = 0;
  for (const block of enc.blocks) {
    const qkv = block.attn.qkv;
    if (!(qkv instanceof LoRAQkv)) continue;
    const plain = new Linear(qkv.inFeatures, qkv.outFeatures, { bias: qkv.bias !== null });
    const w = qkv.mergedWeight();
    noGrad(() => {
      plain.weight.copy_(w);
      if (plain.bias && qkv.bias) plain.bias.copy_(qkv.bias);
    });
    w.dispose();
    plain.weight.requiresGrad_(qkv.weight.requiresGrad);
    plain.bias?.requiresGrad_(qkv.bias!.requiresGrad);
    block.attn.replaceModule('qkv', plain)!.dispose();
    merged++;
  }
  return merged;
}

/** Sam_LoRA's file: w_a_### / w_b_### (q then v for each adapted block, in block order). */
function samLoRAEntries(enc: ImageEncoderViT): { a: Linear; b: Linear }[] {
  const out: { a: Linear; b: Linear }[] = [];
  for (const block of enc.blocks) {
    const qkv = block.attn.qkv;
    if (qkv instanceof LoRAQkv) out.push({ a: qkv.linear_a_q, b: qkv.linear_b_q }, { a: qkv.linear_a_v, b: qkv.linear_b_v });
  }
  if (!out.length) throw new Error('the model has no LoRA layers (addLoRA first)');
  return out;
}

export function saveSamLoRA(model: Sam | ImageEncoderViT, path: string): void {
  const entries = samLoRAEntries(encoderOf(model));
  const id = (i: number): string => String(i).padStart(3, '0');
  const tensors = new Map<string, Tensor>();
  entries.forEach((e, i) => tensors.set(`w_a_${id(i)}`, e.a.weight));
  entries.forEach((e, i) => tensors.set(`w_b_${id(i)}`, e.b.weight));
  saveSafetensors(path, tensors);
}

export function loadSamLoRA(model: Sam | ImageEncoderViT, path: string): void {
  const entries = samLoRAEntries(encoderOf(model));
  const sd = loadStateDict(path);
  try {
    const id = (i: number): string => String(i).padStart(3, '0');
    const expectedKeys = entries.flatMap((_, i) => [`w_a_${id(i)}`, `w_b_${id(i)}`]);
    const missing = expectedKeys.filter((k) => !sd.has(k));
    const extra = [...sd.keys()].filter((k) => !expectedKeys.includes(k));
    if (missing.length || extra.length) {
      throw new Error(`${path}: not a LoRA file for this model (${entries.length / 2} adapted blocks): ${missing.length ? `missing ${missing.slice(0, 3).join(', ')}` : ''}${extra.length ? ` unexpected ${extra.slice(0, 3).join(', ')}` : ''}`.trim());
    }
    noGrad(() => entries.forEach((e, i) => {
      for (const [k, l] of [[`w_a_${id(i)}`, e.a], [`w_b_${id(i)}`, e.b]] as const) {
        const t = sd.get(k)!;
        if (t.shape.join() !== l.weight.shape.join()) throw new Error(`${path}: ${k} has shape [${t.shape}], the model's is [${l.weight.shape}]`);
        l.weight.copy_(t);
      }
    }));
  } finally {
    dispose([...sd.values()]);
  }
}

/** The parameters that require grad (what a PEFT run trains), under their state_dict names. Views, not copies. */
export function trainableStateDict(model: Module): Map<string, Tensor> {
  return new Map(model.namedParameters().filter(([, p]) => p.requiresGrad));
}

/** Writes only the trainable parameters (.safetensors by extension, else a torch .pth of a plain dict). */
export function saveTrainable(model: Module, path: string): string[] {
  const sd = trainableStateDict(model);
  if (!sd.size) throw new Error('saveTrainable: no parameter requires grad (nothing was unfrozen)');
  if (path.toLowerCase().endsWith('.safetensors')) saveSafetensors(path, sd);
  else saveCheckpoint(path, sd);
  return [...sd.keys()];
}

/**
 * Loads a partial state dict (e.g. from saveTrainable) onto a model that already holds its base weights: every
 * key must exist in the model with the same shape; keys not in the file keep their values.
 */
export function loadTrainable(model: Module, path: string): string[] {
  const sd = loadStateDict(path);
  try {
    const r = model.loadStateDict(sd, { strict: false });
    if (r.unexpected.length || r.shapeMismatch.length) {
      const what = r.unexpected.length ? `unexpected keys ${r.unexpected.slice(0, 3).join(', ')}` : `shape mismatch at ${r.shapeMismatch[0]!.key}`;
      throw new Error(`${path} does not fit this model: ${what}`);
    }
    return [...sd.keys()];
  } finally {
    dispose([...sd.values()]);
  }
}

