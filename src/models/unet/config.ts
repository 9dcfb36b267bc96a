// U-Net configurations: plain, frozen JSON objects that checkpoints record and buildUNet() rebuilds from.
import { invalid } from '../../engine/validate.ts';

export type UNetNorm = 'batch' | 'instance' | 'group' | 'none';
export type UNetUpsample = 'transpose' | 'interpolate';
export type UNetArch = 'unet' | 'dual-head-unet';

export interface UNetConfig {
  /** 'unet': one `head`; 'dual-head-unet': `fg_head` and `bg_head` on the shared decoder (MuGu's student). */
  readonly arch: UNetArch;
  readonly spatialDims: 2 | 3;
  readonly inChannels: number;
  /** Channels of each head's logits. */
  readonly outChannels: number;
  /** Channels per level, shallow to deep; the last level is the bottleneck. */
  readonly widths: readonly number[];
  /** batch: BatchNorm; instance: InstanceNorm(affine); group: GroupNorm(min(groups, C), C); none: conv bias instead. */
  readonly norm: UNetNorm;
  /** GroupNorm's group count (capped at the channel count); unused by other norms. */
  readonly groups: number;
  /** Channel dropout (Dropout2d/3d) probability at the end of every conv block; 0 = none. */
  readonly dropout: number;
  /** transpose: ConvTranspose(k2, s2); interpolate: (bi/tri)linear ×2 then a 1×1 conv. */
  readonly upsample: UNetUpsample;
  readonly convsPerLevel: number;
}

/** What buildUNet / unetConfig accept: the shape fields are required, the rest default as DEFAULTS. */
export type UNetConfigInput = Pick<UNetConfig, 'spatialDims' | 'inChannels' | 'outChannels' | 'widths'> & Partial<UNetConfig>;

export const UNET_DEFAULTS = Object.freeze({
  arch: 'unet', norm: 'batch', groups: 8, dropout: 0, upsample: 'transpose', convsPerLevel: 2,
} as const);

const fail = invalid; // sharp-style argument errors, as everywhere
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const KEYS = ['arch', 'spatialDims', 'inChannels', 'outChannels', 'widths', 'norm', 'groups', 'dropout', 'upsample', 'convsPerLevel'];

/** Validates, fills defaults and deep-freezes a U-Net config (unknown keys are rejected to catch typos). */
export function unetConfig(input: UNetConfigInput): UNetConfig {
  if (!input || typeof input !== 'object') throw fail('a U-Net config object', 'config', input);
  for (const k of Object.keys(input)) if (!KEYS.includes(k)) throw new TypeError(`unknown U-Net config key "${k}" (known: ${KEYS.join(', ')})`);
  const c = { ...UNET_DEFAULTS, ...input };
  if (c.arch !== 'unet' && c.arch !== 'dual-head-unet') throw fail('one of unet, dual-head-unet', 'arch', c.arch);
  if (c.spatialDims !== 2 && c.spatialDims !== 3) throw fail('2 or 3', 'spatialDims', c.spatialDims);
  if (!posInt(c.inChannels)) throw fail('integer >= 1', 'inChannels', c.inChannels);
  if (!posInt(c.outChannels)) throw fail('integer >= 1', 'outChannels', c.outChannels);
  if (!Array.isArray(c.widths) || c.widths.length < 1 || !c.widths.every(posInt)) throw fail('a non-empty list of integers >= 1', 'widths', c.widths);
  if (!['batch', 'instance', 'group', 'none'].includes(c.norm)) throw fail('one of batch, instance, group, none', 'norm', c.norm);
  if (!posInt(c.groups)) throw fail('integer >= 1', 'groups', c.groups);
  if (c.norm === 'group') {
    for (const w of c.widths) {
      if (w % Math.min(c.groups, w) !== 0) throw new RangeError(`GroupNorm: width ${w} is not divisible into ${c.groups} groups`);
    }
  }
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) throw fail('number between 0 and 1 (exclusive)', 'dropout', c.dropout);
  if (c.upsample !== 'transpose' && c.upsample !== 'interpolate') throw fail('one of transpose, interpolate', 'upsample', c.upsample);
  if (!posInt(c.convsPerLevel)) throw fail('integer >= 1', 'convsPerLevel', c.convsPerLevel);
  return Object.freeze({
    arch: c.arch, spatialDims: c.spatialDims, inChannels: c.inChannels, outChannels: c.outChannels,
    widths: Object.freeze([...c.widths]), norm: c.norm, groups: c.groups, dropout: c.dropout, upsample: c.upsample,
    convsPerLevel: c.convsPerLevel,
  });
}

/**
 * The benchmark / demo student: 2D, 3 → 1 channels, widths [16, 32, 64, 128], BatchNorm, transposed-conv
 * up-sampling, 2 convs per level: 482,737 parameters, 92 state_dict entries. bench/engine/reference_unet.py builds
 * the identical PyTorch network (`build_unet(SMALL_UNET_2D)`; same keys, order, shapes and seeded init). In PyTorch:
 *
 *   ConvNormAct(cin, c) = Module(conv=nn.Conv2d(cin, c, 3, padding=1, bias=False), norm=nn.BatchNorm2d(c), act=nn.ReLU())
 *   ConvBlock(cin, c)   = Module(convs=nn.ModuleList([ConvNormAct(cin, c), ConvNormAct(c, c)]))
 *   UpBlock(cin, c)     = Module(up=nn.ConvTranspose2d(cin, c, 2, stride=2),
 *                                convs=nn.ModuleList([ConvNormAct(2 * c, c), ConvNormAct(c, c)]))
 *                         forward(x, skip) = convs(torch.cat([skip, up(x)], dim=1))
 *   UNet = Module(encoder=nn.ModuleList([ConvBlock(3, 16), ConvBlock(16, 32), ConvBlock(32, 64), ConvBlock(64, 128)]),
 *                 pool=nn.MaxPool2d(2),
 *                 decoder=nn.ModuleList([UpBlock(128, 64), UpBlock(64, 32), UpBlock(32, 16)]),
 *                 head=nn.Conv2d(16, 1, 1))
 *   forward: e0 = encoder[0](x); e1 = encoder[1](pool(e0)); e2 = encoder[2](pool(e1)); b = encoder[3](pool(e2));
 *            d = decoder[0](b, e2); d = decoder[1](d, e1); d = decoder[2](d, e0); return head(d)
 */
export const SMALL_UNET_2D = unetConfig({
  arch: 'unet', spatialDims: 2, inChannels: 3, outChannels: 1, widths: [16, 32, 64, 128], norm: 'batch',
  dropout: 0, upsample: 'transpose', convsPerLevel: 2,
}) as UNetConfig & { readonly arch: 'unet' };

/** SMALL_UNET_2D's architecture with MuGu's foreground / background heads. */
export const SMALL_DUAL_HEAD_UNET_2D = unetConfig({ ...SMALL_UNET_2D, arch: 'dual-head-unet' }) as UNetConfig & { readonly arch: 'dual-head-unet' };
