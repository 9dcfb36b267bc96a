// 2D image files (PNG, JPEG, TIFF, BMP, GIF, WebP) decoded and encoded with sharp (libvips).
import sharp from 'sharp';
import { existsSync } from 'node:fs';

export interface RawImage {
  /** Interleaved samples, row-major [height, width, channels]: Uint8Array for 8-bit, Uint16Array for 16-bit. */
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

/** Decodes an image file. `channels` forces grey (1) or RGB (3) output; otherwise the file's own layout is kept. */
export async function readImage(path: string, opts: { channels?: 1 | 3 } = {}): Promise<RawImage> {
  if (!existsSync(path)) throw new Error(`image not found: ${path}`);
  let pipeline = sharp(path, { failOn: 'error' });
  if (opts.channels === 1) pipeline = pipeline.toColourspace('b-w');
  else if (opts.channels === 3) pipeline = pipeline.removeAlpha().toColourspace('srgb');
  let result;
  try {
    result = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`cannot decode image ${path}: ${(err as Error).message}`);
  }
  const { data, info } = result;
  const sixteen = info.depth === 'ushort';
  const samples = sixteen
    ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: samples, width: info.width, height: info.height, channels: info.channels, bitDepth: sixteen ? 16 : 8 };
}
