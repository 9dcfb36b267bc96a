// Prediction with a trained run: the checkpoint names its method, config and preprocessing, so the model is rebuilt
// by the method's class and inputs are preprocessed exactly as in training (preprocess.ts). 2D predictions are
// mapped back to the original image size; 3D predictions stay on the volume's own grid.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, tidy } from '../engine/index.ts';
import { invertResize } from '../data/transforms/index.ts';
import { type CheckpointContent, disposeCheckpoint, readCheckpoint } from './checkpoint.ts';
import { inferLogits } from './inference.ts';
import { type Preprocessing, labelsFromProbabilities, modelInput, prepareImage2d, prepareVolume, probabilities } from './preprocess.ts';
import { methodClass } from './registry.ts';
import type { ResolvedConfig } from './resolve.ts';
import type { InferenceModel } from './trainer.ts';
import { RunDirError } from './runDir.ts';

/** A prediction: label map ([H, W] uint8 at the original size, or [D, H, W]) and class probabilities [C', ...]. */
export interface Prediction {
  labels: Tensor;
  probabilities: Tensor;
}

/** best.pth of a run directory (else last.pth), or the given file. */
export function checkpointPath(model: string): string {
  if (!existsSync(model)) throw new RunDirError(`model not found: ${model}`);
  if (!statSync(model).isDirectory()) return model;
  for (const name of ['best.pth', 'last.pth']) if (existsSync(join(model, name))) return join(model, name);
  throw new RunDirError(`${model} is not a run directory: it has neither best.pth nor last.pth`);
}

export class Predictor {
  private constructor(readonly method: string, readonly config: ResolvedConfig, readonly prep: Preprocessing, private readonly model: InferenceModel, readonly epoch: number) {}

  /** Loads a run directory or checkpoint file. */
  static load(model: string): Predictor {
    const path = checkpointPath(model);
    const c: CheckpointContent = readCheckpoint(path);
    try {
      const cls = methodClass(c.method);
      const config = c.config as unknown as ResolvedConfig;
      return new Predictor(c.method, config, c.preprocessing, cls.buildInference(config, c.models), c.epoch);
    } finally {
      disposeCheckpoint(c);
    }
  }

  /** A 2D image [C, H, W] of raw samples (as loadSample gives) → labels [H, W] and probabilities [C', H, W]. */
  predict2d(image: Tensor, bitDepth: 8 | 16, o: { bf16?: boolean } = {}): Prediction {
    return tidy(() => {
      const { input, record } = prepareImage2d(image, bitDepth, this.prep);
      const logits = inferLogits(this.model.logits, modelInput(input.unsqueeze(0)), this.prep, o.bf16 ?? false);
      const probs = invertResize(probabilities(logits, this.prep), record, { mode: 'linear' });
      return { labels: labelsFromProbabilities(probs).squeeze(0), probabilities: probs.squeeze(0) };
    });
  }

  /** A volume [C, D, H, W] → labels [D, H, W] and probabilities [C', D, H, W] by sliding windows. */
  predict3d(volume: Tensor, o: { bf16?: boolean } = {}): Prediction {
    return tidy(() => {
      const logits = inferLogits(this.model.logits, prepareVolume(volume, this.prep).unsqueeze(0), this.prep, o.bf16 ?? false);
      const probs = probabilities(logits, this.prep);
      return { labels: labelsFromProbabilities(probs).squeeze(0), probabilities: probs.squeeze(0) };
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
