// Teacher training: a SAM-family model trained MedSAM / LiteMedSAM style on 2D datasets (../shared/reference/
// sam.md §6), over the shared Trainer so run directories, checkpoints, --resume and validation work as for students.
//
// Each training sample is prompted with its ground-truth box, every side pushed outwards by randint(0, boxJitter)
// pixels (MedSAM: 20 px at 1024², LiteMedSAM: 5 px at 256²; the default scales 20 px to the input size) and, with
// probability pointProb, also with `points` foreground points drawn uniformly from the mask. Multi-label masks
// train one randomly chosen present label per sample (MedSAM). Single-mask output; loss = soft Dice on sigmoid
// probabilities with squared denominators (MONAI squared_pred) + BCE + MSE between the predicted IoU and the IoU
// of (σ(logits) > 0.5) with the truth (LiteMedSAM), computed at the input size. The prompt encoder is frozen and
// run like MedSAM unless methodOptions.trainPromptEncoder. Validation prompts each case with its exact box.
//
// Images are stretched to size × size (the cache of the supervised path), fed as 0..255 RGB through the model's
// own normalisation; `samtutor sam predict` letterboxes instead, which is the same for square images (the shared
// Kvasir set). The checkpoint's `models.sam` is a plain SAM state dict with the official names:
// `samtutor sam predict --checkpoint <run>/best.pth` loads it (architecture detected from the shapes).
import { type Tensor, F, callT, dispose, noGrad, rand, randint, tensor, tidy } from '../engine/index.ts';
import type { Module } from '../nn/index.ts';
import {
  type Sam, type SamConfig, type SamViTSpec, batchedMaskToBox, buildSam, getSamConfig, loadSamStateDict, samVitConfig,
} from '../models/sam/index.ts';
import { loadStateDict } from '../engine/serialization/index.ts';
import type { Batch } from './batches.ts';
import { ConfigError } from './config.ts';
import type { LogitsFn } from './inference.ts';
import { Trainer, type InferenceModel } from './trainer.ts';
import type { ResolvedConfig } from './resolve.ts';
import { type CaseScore, type ValidationBatch, scoreCases } from './validation.ts';

export const TEACHER_ARCHS = ['vit_b', 'vit_t', 'mobile_sam', 'custom'] as const;
export type TeacherArch = (typeof TEACHER_ARCHS)[number];

export interface TeacherOptions {
  arch: TeacherArch;
  /** A SAM-family checkpoint to start from (official layouts, or a samtutor run's best.pth); null: from scratch. */
  init: string | null;
  /** arch 'custom': the ViT numbers (SamViTSpec without imgSize, which is the run's size). */
  vit: Omit<SamViTSpec, 'imgSize'> | null;
  /** Max outward shift of each box side in pixels at the input size; null: 20 · size / 1024 (MedSAM's 20 at 1024). */
  boxJitter: number | null;
  /** Probability that a sample also gets foreground points. */
  pointProb: number;
  points: number;
  trainPromptEncoder: boolean;
  iouLossWeight: number;
}

/** A small ViT SAM that trains from scratch on a CPU in reasonable time (about 6 M parameters at 256²). */
export const SMALL_TEACHER_VIT: Readonly<Omit<SamViTSpec, 'imgSize'>> = Object.freeze({
  embedDim: 256, depth: 6, numHeads: 8, globalAttnIndexes: [2, 5], windowSize: 8, decoderMlpDim: 1024,
});

const TEACHER_DEFAULTS: TeacherOptions = {
  arch: 'custom', init: null, vit: null, boxJitter: null, pointProb: 0.5, points: 1, trainPromptEncoder: false, iouLossWeight: 1,
};

export function teacherOptions(raw: Record<string, unknown>): TeacherOptions {
  const o = { ...TEACHER_DEFAULTS, ...raw } as TeacherOptions;
  const known = Object.keys(TEACHER_DEFAULTS);
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw new ConfigError(`unknown methodOptions key "${k}" for method teacher (known: ${known.join(', ')})`);
  if (!TEACHER_ARCHS.includes(o.arch)) throw new ConfigError(`methodOptions.arch must be one of ${TEACHER_ARCHS.join(', ')}, got ${JSON.stringify(o.arch)}`);
  if (o.init !== null && typeof o.init !== 'string') throw new ConfigError('methodOptions.init must be a checkpoint path or null');
  if (o.vit !== null && (typeof o.vit !== 'object' || o.arch !== 'custom')) throw new ConfigError('methodOptions.vit is an object of ViT numbers, for arch custom only');
  if (o.boxJitter !== null && !(Number.isInteger(o.boxJitter) && o.boxJitter >= 0)) throw new ConfigError(`methodOptions.boxJitter must be an integer >= 0 or null, got ${JSON.stringify(o.boxJitter)}`);
  if (!(typeof o.pointProb === 'number' && o.pointProb >= 0 && o.pointProb <= 1)) throw new ConfigError(`methodOptions.pointProb must be in [0, 1], got ${JSON.stringify(o.pointProb)}`);
  if (!(Number.isInteger(o.points) && o.points >= 1)) throw new ConfigError(`methodOptions.points must be an integer >= 1, got ${JSON.stringify(o.points)}`);
  if (typeof o.trainPromptEncoder !== 'boolean') throw new ConfigError('methodOptions.trainPromptEncoder must be true or false');
  if (!(typeof o.iouLossWeight === 'number' && o.iouLossWeight >= 0)) throw new ConfigError(`methodOptions.iouLossWeight must be >= 0, got ${JSON.stringify(o.iouLossWeight)}`);
  return o;
}

/** The SAM config of a teacher at a given input size. */
export function teacherSamConfig(o: TeacherOptions, size: number): SamConfig {
  if (o.arch === 'vit_t' || o.arch === 'mobile_sam') {
    if (size !== 1024) throw new ConfigError(`arch ${o.arch} (MobileSAM's TinyViT) takes 1024² inputs (LiteMedSAM's 256² TinyViT has a 1×1-convolution stem; teacher training does not build it)`);
    return getSamConfig('mobile_sam');
  }
  const base = o.arch === 'vit_b' ? { embedDim: 768, depth: 12, numHeads: 12, globalAttnIndexes: [2, 5, 8, 11] } : o.vit ?? SMALL_TEACHER_VIT;
  try {
    return samVitConfig({ ...base, name: 'custom', imgSize: size } as SamViTSpec);
  } catch (err) {
    throw new ConfigError(`methodOptions.vit: ${(err as Error).message}`);
  }
}

/**
 * A state dict for a different input size: ViT pos_embed resized bicubically and the global blocks' relative
 * position tables linearly (as SAMed and SC-SAM adapt 1024² checkpoints to smaller inputs).
 */
export function resizeSamStateDict(sd: Map<string, Tensor>, target: SamConfig): void {
  const enc = target.imageEncoder;
  if (enc.type !== 'vit') return;
  const grid = enc.imgSize / enc.patchSize;
  const replace = (key: string, fn: (t: Tensor) => Tensor): void => {
    const t = sd.get(key)!;
    sd.set(key, tidy(() => fn(t).contiguous()));
    t.dispose();
  };
  const pos = sd.get('image_encoder.pos_embed');
  if (pos && pos.shape[1] !== grid) {
    replace('image_encoder.pos_embed', (t) => F.interpolate(t.permute(0, 3, 1, 2).float(), { size: [grid, grid], mode: 'bicubic', alignCorners: false }).permute(0, 2, 3, 1));
  }
  for (const i of enc.globalAttnIndexes) {
    for (const k of ['rel_pos_h', 'rel_pos_w']) {
      const key = `image_encoder.blocks.${i}.attn.${k}`;
      const t = sd.get(key);
      if (!t || t.shape[0] === 2 * grid - 1) continue;
      replace(key, (x) => F.interpolate(x.t().unsqueeze(0).float(), { size: [2 * grid - 1], mode: 'linear', alignCorners: false }).squeeze(0).t());
    }
  }
}

export class TeacherTrainer extends Trainer {
  static override readonly methodName: string = 'teacher';
  private opts!: TeacherOptions;

  static override checkMethodOptions(options: Record<string, unknown>): void {
    teacherOptions(options);
  }

  protected buildModels(): Record<string, Module> {
    this.opts = teacherOptions(this.cfg.methodOptions);
    if (this.runData.prep.dims !== 2) throw new ConfigError('the teacher trains on 2D images; this data is 3D');
    const config = teacherSamConfig(this.opts, this.cfg.size!);
    const sam = buildSam(config);
    if (this.opts.init) {
      const sd = loadStateDict(this.opts.init);
      try {
        resizeSamStateDict(sd, config);
        loadSamStateDict(sam, sd, { label: this.opts.init, modelName: config.name });
      } catch (err) {
        sam.dispose();
        throw new ConfigError(`methodOptions.init ${this.opts.init}: ${(err as Error).message}`);
      } finally {
        dispose([...sd.values()]);
      }
    }
    if (!this.opts.trainPromptEncoder) sam.freeze('prompt_encoder');
    return { sam };
  }

  private get sam(): Sam {
    return this.models.sam as Sam;
  }

  /** Images [B, C, S, S] in [0, 1] → the SAM input (0..255 RGB, the model's normalisation). */
  private encode(x: Tensor): Tensor {
    return tidy(() => {
      const rgb = x.shape[1] === 1 ? x.expand(-1, 3, -1, -1) : x;
      return this.sam.encodeImage(this.sam.preprocess(rgb.mul(255)));
    });
  }

  /** Low-res logits [B, 1, h, w] and IoU predictions [B, 1], one prompt set per image. */
  private decode(embeddings: Tensor, boxes: Tensor, points: { coords: Tensor; labels: Tensor } | null): { logits: Tensor; iou: Tensor } {
    return tidy(() => {
      const outs = Array.from({ length: embeddings.shape[0]! }, (_, i) => this.sam.decode(embeddings.narrow(0, i, 1), {
        boxes: boxes.narrow(0, i, 1),
        ...(points ? { pointCoords: points.coords.narrow(0, i, 1), pointLabels: points.labels.narrow(0, i, 1) } : {}),
      }, false));
      return { logits: F.cat(outs.map((o) => o.lowResLogits), 0), iou: F.cat(outs.map((o) => o.iouPredictions), 0) };
    });
  }

  /** Binary targets [B, S, S]: one present label per sample (the only one for binary data). */
  private binaryTargets(mask: Tensor): Tensor {
    if (this.runData.prep.numClasses === 2) return mask.gt(0);
    return tidy(() => {
      const picks = Array.from({ length: mask.shape[0]! }, (_, i) => {
        const present = tidy(() => callT('bincount', [mask.select(0, i).flatten().long(), null, this.runData.prep.numClasses]).toArray())
          .map((n, label) => (label > 0 && n > 0 ? label : -1)).filter((l) => l > 0);
        if (!present.length) return 0;
        const k = tidy(() => randint(0, present.length, [1], { generator: this.dataGenerator }).item());
        return present[k]!;
      });
      return mask.eq(tensor(Uint8Array.from(picks), [picks.length, 1, 1]));
    });
  }

  /** Ground-truth boxes [B, 4] (x0, y0, x1, y1), jittered outwards, clipped to the image. */
  private boxes(target: Tensor, jitter: number): Tensor {
    return tidy(() => {
      const S = target.shape[1]!;
      let b = batchedMaskToBox(target).float();
      const empty = target.flatten(1).sum(1).eq(0);
      b = F.where(empty.unsqueeze(1), tensor([0, 0, S - 1, S - 1]).float(), b); // no foreground: the whole image
      if (jitter > 0) {
        const d = randint(0, jitter + 1, [b.shape[0]!, 4], { generator: this.dataGenerator }).float();
        b = b.add(d.mul(tensor([-1, -1, 1, 1])));
      }
      return b.clamp(0, S - 1);
    });
  }

  /** `n` foreground points per sample [B, n, 2] (x, y) with labels 1 (the image centre for an empty mask). */
  private points(target: Tensor, n: number): { coords: Tensor; labels: Tensor } {
    return tidy(() => {
      const [B, S] = target.shape as [number, number, number];
      const weights = target.flatten(1).float().add(F.where(target.flatten(1).sum(1, true).gt(0), 0, 1e-6));
      const idx = callT('multinomial', [weights, n, true], { generator: this.dataGenerator.native });
      const coords = F.stack([idx.remainder(S), idx.div(S, 'floor')], -1).float();
      return { coords, labels: tensor(new Int32Array(B * n).fill(1), [B, n]) };
    });
  }

  protected trainStep({ labeled }: Record<string, Batch>): Record<string, number> {
    const { image, mask } = labeled!;
    const S = image.shape[2]!;
    const jitter = this.opts.boxJitter ?? Math.round((20 * S) / 1024);
    const target = this.binaryTargets(mask);
    const boxes = this.boxes(target, jitter);
    const withPoints = this.opts.pointProb > 0 && tidy(() => rand([1], { generator: this.dataGenerator }).item()) < this.opts.pointProb;
    const points = withPoints ? this.points(target, this.opts.points) : null;
    this.zeroGrad();
    let iouPred!: Tensor;
    const logits = this.forward(() => {
      const r = this.decode(this.encode(image), boxes, points);
      iouPred = r.iou.float();
      return r.logits;
    });
    const up = F.interpolate(logits, { size: [S, S], mode: 'bilinear', alignCorners: false }).squeeze(1);
    const g = target.float();
    const p = up.sigmoid();
    const dice = p.mul(g).sum([1, 2]).mul(2).add(1e-5).div(p.square().sum([1, 2]).add(g.square().sum([1, 2])).add(1e-5)).neg().add(1).mean();
    const bce = F.bceWithLogits(up, g);
    const iouTarget = noGrad(() => tidy(() => {
      const hard = p.detach().gt(0.5), gt = target;
      return hard.logicalAnd(gt).sum([1, 2]).float().div(hard.logicalOr(gt).sum([1, 2]).float().clamp(1));
    }));
    const iouLoss = F.mseLoss(iouPred.squeeze(1), iouTarget);
    const loss = dice.add(bce).add(iouLoss.mul(this.opts.iouLossWeight));
    loss.backward();
    this.stepOptimizers();
    return { loss: loss.item(), dice: dice.item(), ce: bce.item(), iou: iouLoss.item() };
  }

  /** Validation Dice with each case's exact ground-truth box (per label for multi-label data: mean over labels). */
  protected override validationStep(batch: ValidationBatch): CaseScore[] {
    const prep = this.runData.prep;
    if (prep.numClasses === 2) {
      const boxes = this.boxes(batch.mask.gt(0), 0);
      return scoreCases(this.promptedLogits(boxes), batch, prep, { bf16: this.cfg.bf16, hd95: this.cfg.valHd95 });
    }
    // Multi-label: one binary pass per label present, scored as that label.
    const byId = new Map<string, number[]>();
    for (let label = 1; label < prep.numClasses; label++) {
      const target = batch.mask.eq(label);
      const scores = scoreCases(this.promptedLogits(this.boxes(target, 0)), { ...batch, mask: target.to('uint8') }, { ...prep, numClasses: 2, outChannels: 1 }, { bf16: this.cfg.bf16, hd95: false });
      scores.forEach((s) => { if (s.dice !== null) byId.set(s.id, [...(byId.get(s.id) ?? []), s.dice]); });
    }
    return batch.ids.map((id) => {
      const d = byId.get(id);
      return { id, dice: d?.length ? d.reduce((a, b) => a + b, 0) / d.length : null, hd95: null };
    });
  }

  private promptedLogits(boxes: Tensor): LogitsFn {
    return (x) => tidy(() => {
      const S = x.shape[2]!;
      const { logits } = this.decode(this.encode(x), boxes, null);
      return F.interpolate(logits.float(), { size: [S, S], mode: 'bilinear', alignCorners: false });
    });
  }

  static override buildInference(_config: ResolvedConfig, _models: Record<string, Map<string, Tensor>>): InferenceModel {
    throw new Error('a SAM teacher needs prompts: use samtutor sam predict --checkpoint <run-dir>/best.pth --box x0,y0,x1,y1');
  }
}
