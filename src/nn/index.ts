// samtutor's torch.nn: modules with PyTorch's names, defaults, init and state_dict keys.
export { Module, parameter, type UnaryModule, type NamePattern, type LoadStateDictResult, type StateDictInput } from './module.ts';
export type { ShapeMismatch } from './state_dict.ts';
export * as init from './init.ts';
export { Linear } from './linear.ts';
export {
  Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, ConvNdBase, ConvTransposeNdBase,
  type ConvOptions, type ConvTransposeOptions, type PaddingMode,
} from './conv.ts';
export { LayerNorm, LayerNorm2d, GroupNorm } from './norm.ts';
export { BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, type NormOptions } from './batchnorm.ts';
export { Embedding } from './embedding.ts';
export { Dropout, Dropout2d, Dropout3d } from './dropout.ts';
export { Identity, ReLU, GELU, LeakyReLU, SiLU, Sigmoid, Tanh, Softmax, ACTIVATIONS, type ActivationName } from './activation.ts';
export { Sequential, ModuleList, ModuleDict } from './container.ts';
export {
  MaxPool2d, MaxPool3d, AvgPool2d, AvgPool3d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, Upsample,
  type MaxPoolOptions, type AvgPoolOptions,
} from './pooling.ts';
export { MLP, MLPBlock } from './mlp.ts';
