// Data transforms: array functions on one tensor ([C,H,W] / [C,D,H,W]) and keyed transforms over sample records
// that share one random draw between image and mask, composed with one seeded Generator.
export {
  type Sample, type KeyOptions, type Transform, type Range, type SpatialRank, type ResizeMode, uniforms, spatialRank, spatialSize,
  mapKeys, mapLabels,
} from './common.ts';
export {
  type ResizeRecord, type ResizeOptions, type Placement, type FitOptions, resize, resizeLabels, planResize, planLetterbox, applyResize,
  applyResizeLabels, letterbox, invertResize, mapCoords, mapBoxes, mapPoint, roundHalfUp, ResizeLongestSide, Resize, Letterbox,
} from './geometry.ts';
export {
  type ZScoreOptions, type PercentileClipOptions, zscore, percentiles, percentileClip, CT_WINDOWS, ctWindow, scaleToUnit,
  minMaxScale, adjustBrightness, adjustContrast, adjustGamma, addGaussianNoise,
} from './intensity.ts';
export {
  type PaddingMode, type AffineParams, type ElasticParams, type GridDistortionParams, type Box, rotationMatrix, affineTheta,
  affineGrid, warp, warpLabels, gaussianBlur, elasticGrid, gridDistortionGrid, cutout,
} from './spatial.ts';
export {
  type SpatialOptions, type AffineOptions, type ElasticOptions, type CutoutOptions, RandFlip, RandAffine, RandElastic,
  RandGridDistortion, RandBrightnessContrast, RandGamma, RandGaussianNoise, RandCutout,
} from './augment.ts';
export { PRESET_PARAMS, type PresetOptions, weakAugment, strongAugment, strongIntensityAugment } from './presets.ts';
export { Compose, OneOf } from './compose.ts';
export { type PatchOptions, type PatchInfo, extractPatch, samplePatchStart, samplePatch, RandPatch } from './patch.ts';
export {
  type Predictor, type BlendMode, type SlidingWindowOptions, importanceMap, windowStarts, slidingWindowInference,
} from './slidingWindow.ts';
