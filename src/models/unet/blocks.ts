// U-Net building blocks. Each mirrors a class of bench/engine/reference_unet.py with the same child names, so the
// state_dict keys agree (see unet.ts for the full key layout).
import { type Tensor, F, tidy } from '../../engine/index.ts';
import {
  Module, ModuleList, type UnaryModule, Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d, BatchNorm2d, BatchNorm3d,
  InstanceNorm2d, InstanceNorm3d, GroupNorm, ReLU, Dropout2d, Dropout3d, Upsample,
} from '../../nn/index.ts';
import type { UNetConfig } from './config.ts';

type BlockConfig = Pick<UNetConfig, 'spatialDims' | 'norm' | 'groups' | 'dropout' | 'convsPerLevel' | 'upsample'>;

export function makeConv(dims: 2 | 3, cin: number, cout: number, kernel: number, o: { padding?: number; bias?: boolean; stride?: number } = {}): UnaryModule {
  return dims === 2 ? new Conv2d(cin, cout, kernel, o) : new Conv3d(cin, cout, kernel, o);
}

function makeNorm(c: BlockConfig, channels: number): UnaryModule | null {
  const d = c.spatialDims;
  switch (c.norm) {
    case 'batch': return d === 2 ? new BatchNorm2d(channels) : new BatchNorm3d(channels);
    case 'instance': return d === 2 ? new InstanceNorm2d(channels, { affine: true }) : new InstanceNorm3d(channels, { affine: true });
    case 'group': return new GroupNorm(Math.min(c.groups, channels), channels);
    case 'none': return null;
  }
}

/** conv k3 p1 (bias only without norm) → norm → ReLU. Children: conv, norm (absent for 'none'), act. */
export class ConvNormAct extends Module {
  readonly conv: UnaryModule;
  readonly norm: UnaryModule | null;
  readonly act: ReLU;

  constructor(c: BlockConfig, cin: number, cout: number) {
    super();
    this.conv = this.registerModule('conv', makeConv(c.spatialDims, cin, cout, 3, { padding: 1, bias: c.norm === 'none' }));
    this.norm = this.registerModule('norm', makeNorm(c, cout));
    this.act = this.registerModule('act', new ReLU());
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.conv.forward(x);
      return this.act.forward(this.norm ? this.norm.forward(y) : y);
    });
  }
}

/** convsPerLevel ConvNormAct (`convs.0`, `convs.1`, ...), then channel dropout `drop` when dropout > 0. */
export class ConvBlock extends Module {
  readonly convs: ModuleList<ConvNormAct>;
  readonly drop: UnaryModule | null;

  constructor(c: BlockConfig, cin: number, cout: number) {
    super();
    const convs = Array.from({ length: c.convsPerLevel }, (_, j) => new ConvNormAct(c, j === 0 ? cin : cout, cout));
    this.convs = this.registerModule('convs', new ModuleList(convs));
    this.drop = this.registerModule('drop', c.dropout > 0 ? (c.spatialDims === 2 ? new Dropout2d(c.dropout) : new Dropout3d(c.dropout)) : null);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      for (const layer of this.convs) y = layer.forward(y);
      return this.drop ? this.drop.forward(y) : y;
    });
  }
}

/** (bi/tri)linear ×2 up-sampling (align_corners false) then a 1×1 conv with bias. Children: upsample, conv. */
export class UpsampleConv extends Module {
  readonly upsample: Upsample;
  readonly conv: UnaryModule;

  constructor(dims: 2 | 3, cin: number, cout: number) {
    super();
    this.upsample = this.registerModule('upsample', new Upsample({ scaleFactor: 2, mode: dims === 2 ? 'bilinear' : 'trilinear', alignCorners: false }));
    this.conv = this.registerModule('conv', makeConv(dims, cin, cout, 1));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.conv.forward(this.upsample.forward(x)));
  }
}

/**
 * One decoder stage: `up` (ConvTranspose k2 s2 with bias, or UpsampleConv) from cin to cout channels, zero-pad to
 * the skip's size when the input was not divisible (split floor/ceil per side), cat([skip, up], dim 1), then
 * convsPerLevel ConvNormAct (`convs.*`, the first from 2·cout) and optional `drop`.
 */
export class UpBlock extends Module {
  readonly up: UnaryModule;
  readonly convs: ModuleList<ConvNormAct>;
  readonly drop: UnaryModule | null;

  constructor(c: BlockConfig, cin: number, cout: number) {
    super();
    const d = c.spatialDims;
    this.up = this.registerModule('up', c.upsample === 'transpose'
      ? (d === 2 ? new ConvTranspose2d(cin, cout, 2, { stride: 2 }) : new ConvTranspose3d(cin, cout, 2, { stride: 2 }))
      : new UpsampleConv(d, cin, cout));
    const convs = Array.from({ length: c.convsPerLevel }, (_, j) => new ConvNormAct(c, j === 0 ? 2 * cout : cout, cout));
    this.convs = this.registerModule('convs', new ModuleList(convs));
    this.drop = this.registerModule('drop', c.dropout > 0 ? (d === 2 ? new Dropout2d(c.dropout) : new Dropout3d(c.dropout)) : null);
  }

  forward(x: Tensor, skip: Tensor): Tensor {
    return tidy(() => {
      let y = this.up.forward(x);
      const pads: number[] = [];
      for (let i = y.ndim - 1; i >= 2; i--) {
        const diff = skip.shape[i]! - y.shape[i]!;
        pads.push(Math.floor(diff / 2), diff - Math.floor(diff / 2));
      }
      if (pads.some((p) => p !== 0)) y = F.pad(y, pads);
      y = F.cat([skip, y], 1);
      for (const layer of this.convs) y = layer.forward(y);
      return this.drop ? this.drop.forward(y) : y;
    });
  }
}
