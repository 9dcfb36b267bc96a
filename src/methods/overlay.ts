// Overlays of predicted label maps on their images, with engine ops only: a translucent fill in each label's
// colour plus an opaque one-pixel outline (pixels whose 3×3 neighbourhood holds another label).
import { type Tensor, F, tensor, tidy } from '../engine/index.ts';

/** Label colours (RGB): red, green, blue, yellow, magenta, cyan, orange, purple; repeated beyond 8 labels. */
const PALETTE = [[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [240, 50, 230], [70, 240, 240], [245, 130, 48], [145, 30, 180]];

/**
 * An RGB overlay [3, H, W] (float 0..255) of labels [H, W] on an image [C, H, W] of raw samples (bitDepth 8 or 16;
 * grey is shown as grey, the first three channels otherwise). `alpha` is the fill opacity.
 */
export function overlayLabels(image: Tensor, labels: Tensor, o: { bitDepth?: 8 | 16; alpha?: number } = {}): Tensor {
  const alpha = o.alpha ?? 0.4;
  return tidy(() => {
    const scaled = image.float().div(o.bitDepth === 16 ? 257 : 1);
    const rgb = scaled.shape[0] === 1 ? scaled.expand(3, ...scaled.shape.slice(1)) : scaled.narrow(0, 0, 3);
    const maxLabel = Math.max(1, labels.max().item());
    const palette = tensor(Array.from({ length: maxLabel + 1 }, (_, i) => (i === 0 ? [0, 0, 0] : PALETTE[(i - 1) % PALETTE.length]!)).flat(), [maxLabel + 1, 3]);
    const colours = palette.indexSelect(0, labels.long().flatten()).reshape(labels.shape[0]!, labels.shape[1]!, 3).permute(2, 0, 1);
    const l = labels.float().unsqueeze(0).unsqueeze(0);
    const outline = F.maxPool2d(l, 3, { stride: 1, padding: 1 }).ne(F.maxPool2d(l.neg(), 3, { stride: 1, padding: 1 }).neg()).squeeze(0);
    const fg = labels.gt(0).unsqueeze(0);
    const filled = rgb.mul(1 - alpha).add(colours.mul(alpha)).where(fg, rgb);
    return colours.where(outline.logicalAnd(fg), filled).clamp(0, 255);
  });
}
