// Configurable 2D / 3D U-Net students, and the dual-head variant (MuGu's foreground / background heads).
//
// Structure (L = widths.length levels; w = widths; "Nd" = 2d or 3d), mirrored class for class and name for name by
// bench/engine/reference_unet.py:
//
//   UNet
//     encoder: ModuleList of L ConvBlock          encoder.0: inChannels → w0, encoder.i: w[i-1] → w[i]
//       ConvBlock.convs: ModuleList of convsPerLevel ConvNormAct
//         ConvNormAct.conv: ConvNd(cin, cout, 3, padding=1, bias = norm == 'none')
//         ConvNormAct.norm: BatchNormNd(cout) | InstanceNormNd(cout, affine=True) | GroupNorm(min(groups, cout), cout)
//                           (absent for norm 'none')
//         ConvNormAct.act:  ReLU
//       ConvBlock.drop: DropoutNd(dropout)          (only when dropout > 0)
//     pool: MaxPoolNd(2)                            (before encoder levels 1 … L-1)
//     decoder: ModuleList of L-1 UpBlock          decoder.k: w[L-1-k] → w[L-2-k]
//       UpBlock.up: ConvTransposeNd(cin, cout, 2, stride=2)                       (upsample 'transpose')
//                 | UpsampleConv{ upsample: Upsample(×2, (bi|tri)linear, align_corners=False),
//                                 conv: ConvNd(cin, cout, 1) }                       (upsample 'interpolate')
//       then zero-pad to the skip's size if needed, cat([skip, up], dim=1)
//       UpBlock.convs: ModuleList of convsPerLevel ConvNormAct (the first from 2·cout), UpBlock.drop as above
//     head: ConvNd(w0, outChannels, 1) with bias             (DualHeadUNet: fg_head, then bg_head)
//
// state_dict keys of SMALL_UNET_2D (BatchNorm adds weight, bias, running_mean, running_var, num_batches_tracked):
//   encoder.{0..3}.convs.{0,1}.conv.weight               [w, cin, 3, 3]
//   encoder.{0..3}.convs.{0,1}.norm.{weight,bias,running_mean,running_var,num_batches_tracked}
//   decoder.{0..2}.up.weight [cin, cout, 2, 2], decoder.{0..2}.up.bias [cout]
//   decoder.{0..2}.convs.{0,1}.conv.weight, decoder.{0..2}.convs.{0,1}.norm.*
//   head.weight [1, 16, 1, 1], head.bias [1]
import { type Tensor, tidy } from '../../engine/index.ts';
import { Module, ModuleList, MaxPool2d, MaxPool3d, type UnaryModule } from '../../nn/index.ts';
import { type UNetConfig, type UNetConfigInput, unetConfig } from './config.ts';
import { ConvBlock, UpBlock, makeConv } from './blocks.ts';

/** The shared encoder / decoder; subclasses add heads. */
export abstract class UNetBase extends Module {
  readonly config: UNetConfig;
  readonly encoder: ModuleList<ConvBlock>;
  readonly pool: UnaryModule;
  readonly decoder: ModuleList<UpBlock>;

  constructor(config: UNetConfigInput) {
    super();
    const c = (this.config = unetConfig(config));
    const w = c.widths;
    this.encoder = this.registerModule('encoder', new ModuleList(w.map((cout, i) => new ConvBlock(c, i === 0 ? c.inChannels : w[i - 1]!, cout))));
    this.pool = this.registerModule('pool', c.spatialDims === 2 ? new MaxPool2d(2) : new MaxPool3d(2));
    const ups: UpBlock[] = [];
    for (let i = w.length - 1; i > 0; i--) ups.push(new UpBlock(c, w[i]!, w[i - 1]!));
    this.decoder = this.registerModule('decoder', new ModuleList(ups));
  }

  /** The decoder's last feature map [N, widths[0], *spatial] (what the heads read). */
  features(x: Tensor): Tensor {
    const c = this.config;
    if (x.ndim !== c.spatialDims + 2 || x.shape[1] !== c.inChannels) {
      throw new RangeError(`${this.constructor.name}: expected input [N, ${c.inChannels}, ${c.spatialDims === 2 ? 'H, W' : 'D, H, W'}] but received shape [${x.shape.join(', ')}]`);
    }
    return tidy(() => {
      const skips: Tensor[] = [];
      let y = x;
      this.encoder.map((block, i) => {
        if (i > 0) {
          skips.push(y);
          y = this.pool.forward(y);
        }
        y = block.forward(y);
      });
      this.decoder.map((up) => {
        y = up.forward(y, skips.pop()!);
      });
      return y;
    });
  }
}

/** U-Net with one 1×1 `head`: forward(x) → logits [N, outChannels, *spatial]. */
export class UNet extends UNetBase {
  readonly head: UnaryModule;

  constructor(config: UNetConfigInput) {
    super({ ...config, arch: 'unet' });
    this.head = this.registerModule('head', makeConv(this.config.spatialDims, this.config.widths[0]!, this.config.outChannels, 1));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.head.forward(this.features(x)));
  }
}

export interface DualHeadOutput {
  /** Foreground logits [N, outChannels, *spatial]. */
  fg: Tensor;
  /** Background logits, same shape. */
  bg: Tensor;
}

/** The U-Net with two 1×1 heads, `fg_head` and `bg_head`, on the shared decoder (MuGu's student). */
export class DualHeadUNet extends UNetBase {
  readonly fgHead: UnaryModule;
  readonly bgHead: UnaryModule;

  constructor(config: UNetConfigInput) {
    super({ ...config, arch: 'dual-head-unet' });
    const c = this.config;
    this.fgHead = this.registerModule('fg_head', makeConv(c.spatialDims, c.widths[0]!, c.outChannels, 1));
    this.bgHead = this.registerModule('bg_head', makeConv(c.spatialDims, c.widths[0]!, c.outChannels, 1));
  }

  forward(x: Tensor): DualHeadOutput {
    return tidy(() => {
      const f = this.features(x);
      return { fg: this.fgHead.forward(f), bg: this.bgHead.forward(f) };
    });
  }
}

/** Builds the model a config describes (config.arch picks UNet or DualHeadUNet; default 'unet'). */
export function buildUNet(config: UNetConfigInput & { arch: 'dual-head-unet' }): DualHeadUNet;
export function buildUNet(config: UNetConfigInput & { arch?: 'unet' }): UNet;
export function buildUNet(config: UNetConfigInput): UNet | DualHeadUNet;
export function buildUNet(config: UNetConfigInput): UNet | DualHeadUNet {
  const c = unetConfig(config);
  return c.arch === 'dual-head-unet' ? new DualHeadUNet(c) : new UNet(c);
}
