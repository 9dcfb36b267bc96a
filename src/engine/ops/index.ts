// torch.nn.functional for samtutor: import * as F from '.../engine/ops/index.ts'.
export * from './activation.ts';
export * from './conv.ts';
export * from './pool.ts';
export * from './norm.ts';
export * from './interpolate.ts';
export * from './loss.ts';
export * from './shape.ts';
export * from './linear.ts';
