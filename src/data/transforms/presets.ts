// Weak and strong augmentation presets for supervised and semi-supervised (FixMatch-style co-training: SC-SAM,
// MuGu) training, 2D or 3D. Parameters follow SC-SAM's albumentations recipes (flips 0.5, shift 0.0625, scale 0.05,
// rotation 10°, brightness/contrast, elastic-or-grid distortion p 0.5, coarse dropout p 0.7) with scale-free
// intensity ops (multiplicative brightness, contrast about the mean, noise relative to the image std), so they suit
// z-scored and [0,1] images alike. Sizes are fractions of each side, so they fit any input size.
import type { Generator } from '../../engine/index.ts';
import type { Transform } from './common.ts';
import { Compose, OneOf } from './compose.ts';
import {
  type SpatialOptions, RandAffine, RandBrightnessContrast, RandCutout, RandElastic, RandFlip, RandGamma, RandGaussianNoise,
  RandGridDistortion,
} from './augment.ts';

/** The preset parameters (read-only; copy and change them to build a variant with the classes in augment.ts). */
export const PRESET_PARAMS = Object.freeze({
  /** Each spatial axis flipped with p 0.5. */
  flip: { p: 0.5 },
  /** p 0.5: rotation ±10° (2D in-plane, 3D about each axis), isotropic zoom 0.95–1.05, shift ±6.25 % per side. */
  affine: { p: 0.5, rotate: 10, scale: [0.95, 1.05] as const, shift: 0.0625 },
  /** p 0.6: brightness ×0.8–1.2, contrast ×0.8–1.2 about the mean. */
  brightnessContrast: { p: 0.6, brightness: [0.8, 1.2] as const, contrast: [0.8, 1.2] as const },
  /** p 0.3: γ in 0.7–1.5, mean and std retained. */
  gamma: { p: 0.3, gamma: [0.7, 1.5] as const },
  /** p 0.2: Gaussian noise with std 0–0.1 × the image std. */
  noise: { p: 0.2, std: [0, 0.1] as const },
  /** p 0.5, one of: elastic (σ 4–6 %, peak 1–3 % of the shortest side) or grid distortion (5 steps, ±5 %). */
  distortion: { p: 0.5, elastic: { sigma: [0.04, 0.06] as const, magnitude: [0.01, 0.03] as const }, grid: { steps: 5, limit: 0.05 } },
  /** p 0.7: 10–20 holes of 2–5 % of each side (SC-SAM: ≤ 12 px at 256), filled with 0; labels untouched. */
  cutout: { p: 0.7, holes: [10, 20] as const, size: [0.02, 0.05] as const, fill: 0 },
});

export interface PresetOptions extends SpatialOptions {
  /** Seed of the preset's own generator (default 0) when it runs standalone. */
  seed?: number | bigint;
  /** A shared generator instead (e.g. one for the whole data pipeline, saved in checkpoints). */
  generator?: Generator;
}

const P = PRESET_PARAMS;

function geometric(o: PresetOptions): Transform[] {
  return [new RandFlip({ ...o, p: P.flip.p }), new RandAffine({ ...o, ...P.affine })];
}

function photometric(o: PresetOptions): Transform[] {
  return [
    new RandBrightnessContrast({ ...o, ...P.brightnessContrast }),
    new RandGamma({ ...o, ...P.gamma }),
    new RandGaussianNoise({ ...o, ...P.noise }),
  ];
}

const cutout = (o: PresetOptions): Transform => new RandCutout({ ...o, ...P.cutout });

/** Weak view: flips and a small affine (labeled images in SC-SAM; the pseudo-labelling view in FixMatch). */
export function weakAugment(o: PresetOptions = {}): Compose {
  return new Compose(geometric(o), o);
}

/**
 * Strong view: the weak transforms, then elastic-or-grid distortion, brightness/contrast, gamma, noise and cut-out.
 * Geometry differs from a weak view of the same image; to supervise a strong view with pseudo-labels from a weak
 * view, apply strongIntensityAugment to the weak view instead.
 */
export function strongAugment(o: PresetOptions = {}): Compose {
  const distortion = new OneOf([
    new RandElastic({ ...o, ...P.distortion.elastic }),
    new RandGridDistortion({ ...o, ...P.distortion.grid }),
  ], { p: P.distortion.p });
  return new Compose([...geometric(o), distortion, ...photometric(o), cutout(o)], o);
}

/** The geometry-free part of the strong preset (intensity jitter and cut-out): strong = this ∘ weak keeps masks aligned. */
export function strongIntensityAugment(o: PresetOptions = {}): Compose {
  return new Compose([...photometric(o), cutout(o)], o);
}
