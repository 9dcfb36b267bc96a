// Preprocessing shared by training (the case cache) and `samtutor predict`, so a prediction sees exactly what
// training saw. The Preprocessing record is stored in every checkpoint.
//
// 2D: the image [C, H, W] (raw sample values) is stretched to the model size with antialiased bilinear resizing,
//     then normalised: 'unit' maps samples to [0, 1] (÷255 or ÷65535) and is stored rounded to uint8 (exact for
//     8-bit sources, whose resized values are then within 0.5/255 of the float result; 4× less memory than
//     float32 and cheaper to gather); 'zscore' is per image and channel, stored float32. Masks: nearest, uint8.
// 3D: volumes stay at their own voxel grid (no spacing resampling); z-score per case and channel (nnU-Net's
//     ZScoreNormalization), float32. Prediction runs sliding windows of the training patch size.
import { type Tensor, F, tidy } from '../engine/index.ts';
import { type ResizeRecord, applyResize, applyResizeLabels, planResize, zscore } from '../data/transforms/index.ts';

export interface Preprocessing {
  dims: 2 | 3;
  /** Model input channels (2D images are converted to this many; 3D: modalities). */
  channels: number;
  /** 2D: model input size [H, W]; 3D: patch size [D, H, W] (the sliding-window size at inference). */
  size: number[];
  /** 2D: stretch to size (aspect ratio not kept); 3D: none. */
  resize: 'stretch' | 'none';
  normalization: 'unit' | 'zscore';
  /** How preprocessed 2D images are held: uint8 (unit, quantised to 1/255) or float32. */
  storage: 'uint8' | 'float32';
  /** Label index → name (0 = background). */
  labels: Record<string, string>;
  numClasses: number;
  /** Logit channels: 1 for binary (sigmoid), numClasses otherwise (softmax). */
  outChannels: number;
  /** 3D sliding-window overlap (Gaussian blending). */
  overlap: number;
}

/** The activation a model's logits take. */
export const activationOf = (prep: Preprocessing): 'sigmoid' | 'softmax' => (prep.outChannels === 1 ? 'sigmoid' : 'softmax');

/**
 * A 2D image [C, H, W] of raw samples (bitDepth 8 or 16) in the model frame, as stored: [C, ...size] uint8 or
 * float32; with the resize record that maps predictions back.
 */
export function prepareImage2d(image: Tensor, bitDepth: 8 | 16, prep: Preprocessing): { input: Tensor; record: ResizeRecord } {
  const record = planResize(image.shape.slice(1), prep.size);
  const input = tidy(() => {
    const resized = applyResize(image, record, { mode: 'linear', antialias: true });
    if (prep.normalization === 'zscore') return zscore(resized, { channelWise: true });
    const unit = resized.div(bitDepth === 16 ? 65535 : 255);
    return prep.storage === 'uint8' ? unit.mul(255).round().clamp(0, 255).to('uint8') : unit;
  });
  return { input, record };
}

/** A 2D label map [H, W] in the model frame: nearest neighbour to size, uint8 [...size]. */
export function prepareMask2d(mask: Tensor, prep: Preprocessing): Tensor {
  return tidy(() => applyResizeLabels(mask.unsqueeze(0), planResize(mask.shape, prep.size)).squeeze(0).to('uint8'));
}

/** A volume [C, D, H, W] normalised for the model (float32). */
export function prepareVolume(image: Tensor, prep: Preprocessing): Tensor {
  if (prep.normalization !== 'zscore') throw new Error(`volumes are normalised with zscore, not ${prep.normalization}`);
  return zscore(image, { channelWise: true });
}

/** Stored inputs [B, C, ...] (uint8 or float32) as the float32 tensor the model takes. */
export function modelInput(stored: Tensor): Tensor {
  return stored.dtype === 'uint8' ? tidy(() => stored.float().div(255)) : stored.float();
}

/** Class probabilities [B, C', ...] from logits: sigmoid (one channel) or softmax. */
export function probabilities(logits: Tensor, prep: Preprocessing): Tensor {
  return activationOf(prep) === 'sigmoid' ? logits.float().sigmoid() : tidy(() => F.softmax(logits.float(), 1));
}

/** The label map [B, ...] (uint8) from probabilities [B, C', ...]: p > 0.5 for binary, argmax otherwise. */
export function labelsFromProbabilities(probs: Tensor): Tensor {
  return tidy(() => (probs.shape[1] === 1 ? probs.squeeze(1).gt(0.5).to('uint8') : probs.argmax(1).to('uint8')));
}
