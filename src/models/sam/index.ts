// The SAM family: ViT and TinyViT image encoders, prompt encoder, two-way-transformer mask decoder, the Sam
// wiring, a config registry and the checkpoint loader. Parameter names are the official ones, so SAM, MedSAM,
// MobileSAM and LiteMedSAM checkpoints load unchanged.
export {
  ImageEncoderViT, ViTBlock, ViTAttention, PatchEmbed, windowPartition, windowUnpartition, getRelPos, relPosIndex,
  addDecomposedRelPos, type ImageEncoderViTOptions,
} from './imageEncoder.ts';
export {
  PromptEncoder, PositionEmbeddingRandom, type PromptEncoderOptions, type PointPrompt, type PromptEmbeddings,
} from './promptEncoder.ts';
export { TwoWayTransformer, TwoWayAttentionBlock, Attention, type TwoWayTransformerOptions } from './twoWayTransformer.ts';
export { MaskDecoder, type MaskDecoderOptions, type MaskDecoderOutput } from './maskDecoder.ts';
export {
  Sam, SAM_PIXEL_MEAN, SAM_PIXEL_STD, type SamImageEncoder, type SamOptions, type SamPrompts, type SamBatchedInput,
  type SamDecoded, type SamOutput,
} from './sam.ts';
export { TinyViT, type TinyViTConfig, MOBILE_SAM_TINYVIT, LITE_MEDSAM_TINYVIT, tinyVitConfig } from './tinyVit.ts';
export {
  SAM_MODEL_CONFIGS, SAM_MODEL_ALIASES, buildSam, getSamConfig, samConfig, samVitConfig, type SamConfig, type SamViTSpec,
  type SamEncoderConfig, type SamViTEncoderConfig, type SamTinyViTEncoderConfig, type SamPromptEncoderConfig,
  type SamMaskDecoderConfig, type SamPreprocessing,
} from './registry.ts';
export {
  loadSamCheckpoint, detectSamConfig, loadSamStateDict, compareStateDict, SamCheckpointError, type LoadSamCheckpointOptions,
  type LoadedSam, type SamModelType,
} from './checkpoint.ts';
export { LayerNorm2d, MLP, MLPBlock } from './common.ts';
export * from './resize.ts';
export * from './predictor.ts';
export * from './amg.ts';
export * from './peft.ts';
