// Supervised training of the U-Net student on labeled cases: the configured segmentation loss (Dice + CE by
// default) on augmented batches. It overrides two hooks; everything else is the shared Trainer.
import type { Module } from '../nn/index.ts';
import { type UNet, buildUNet } from '../models/unet/index.ts';
import type { Batch } from './batches.ts';
import { Trainer } from './trainer.ts';

export class SupervisedTrainer extends Trainer {
  static override readonly methodName: string = 'supervised';

  protected buildModels(): Record<string, Module> {
    return { student: buildUNet({ ...this.cfg.model, arch: 'unet' }) };
  }

  /** Forward (bf16 autocast if configured), loss, backward, then the optimizer and schedule step (outside autocast). */
  protected trainStep({ labeled }: Record<string, Batch>): Record<string, number> {
    const student = this.models.student as UNet;
    this.zeroGrad();
    const logits = this.forward(() => student.forward(labeled!.image));
    const terms = this.loss(logits, labeled!.mask);
    terms.loss.backward();
    this.stepOptimizers();
    return Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, t.item()]));
  }
}
