// U-Net students: configs, presets, builders (see unet.ts for the module structure and state_dict keys).
export {
  type UNetConfig, type UNetConfigInput, type UNetNorm, type UNetUpsample, type UNetArch,
  UNET_DEFAULTS, unetConfig, SMALL_UNET_2D, SMALL_DUAL_HEAD_UNET_2D,
} from './config.ts';
export { ConvNormAct, ConvBlock, UpBlock, UpsampleConv } from './blocks.ts';
export { UNetBase, UNet, DualHeadUNet, buildUNet, type DualHeadOutput } from './unet.ts';
