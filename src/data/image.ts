// 2D image files: PNG, JPEG, TIFF, GIF and WebP through sharp (libvips), BMP through ./bmp.ts (libvips as shipped
// with sharp has no BMP codec). 8-bit and 16-bit samples, grey / grey+alpha / RGB / RGBA. Decoding yields a typed
// array; conversion to tensors happens natively (no JS loops over pixels).
import sharp from 'sharp';
import { readFile, writeFile, stat, mkdir } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { tensor, tidy, callT, type Tensor } from '../engine/index.ts';
import { DataError, reason } from './errors.ts';
import { decodeBmp, encodeBmp, isBmp } from './bmp.ts';

export interface RawImage {
  /** Interleaved samples, row-major [height, width, channels]: Uint8Array for 8-bit, Uint16Array for 16-bit. */
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  bitDepth: 8 | 16;
}

export interface ImageInfo {
  width: number;
  height: number;
  /** Channels the file decodes to (palette GIFs decode to RGB or RGBA). */
  channels: number;
  bitDepth: 8 | 16;
  /** 'png', 'jpeg', 'tiff', 'gif', 'webp', 'bmp', ... */
  format: string;
}

/** 'keep' returns the file's own channel layout; a number converts (1: ITU-R 601 luma grey, 3: RGB, 4: RGBA; alpha dropped or added). */
export type ChannelMode = 'keep' | 1 | 3 | 4;

/** File endings read as 2D images (lower case; matching is case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.gif', '.webp'];
/** Endings that store samples exactly (safe for masks). */
export const LOSSLESS_EXTENSIONS: readonly string[] = ['.png', '.tif', '.tiff', '.bmp'];

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('NOT_FOUND', `image not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read image ${path}: ${reason(err)}`, path);
  }
}

const sixteenBit = (depth: string | undefined, path: string): boolean => {
  if (depth === 'uchar' || depth === undefined) return false;
  if (depth === 'ushort') return true;
  throw new DataError('UNSUPPORTED', `cannot read ${path}: ${depth} samples are not supported (8-bit and 16-bit unsigned are)`, path);
};

/** Size, channels and bit depth from the file header, without decoding pixels. */
export async function readImageInfo(path: string): Promise<ImageInfo> {
  const bytes = await readBytes(path);
  if (isBmp(bytes)) {
    const b = decodeBmp(bytes, path);
    return { width: b.width, height: b.height, channels: b.channels, bitDepth: 8, format: 'bmp' };
  }
  try {
    const m = await sharp(bytes).metadata();
    if (!m.width || !m.height) throw new Error('no size in header');
    return { width: m.width, height: m.height, channels: m.channels ?? 1, bitDepth: sixteenBit(m.depth, path) ? 16 : 8, format: m.format ?? 'unknown' };
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('UNREADABLE', `cannot decode image ${path}: ${reason(err)}`, path);
  }
}

/** Decodes an image file (first page of multi-page TIFF/GIF). */
export async function readImage(path: string, opts: { channels?: ChannelMode } = {}): Promise<RawImage> {
  const mode = opts.channels ?? 'keep';
  if (mode !== 'keep' && mode !== 1 && mode !== 3 && mode !== 4) {
    throw new DataError('INVALID', `Expected 'keep', 1, 3 or 4 for channels but received ${String(mode)} of type ${typeof mode}`);
  }
  const bytes = await readBytes(path);
  try {
    let source: sharp.Sharp;
    let channels: number;
    let sixteen: boolean;
    if (isBmp(bytes)) {
      const b = decodeBmp(bytes, path);
      if (mode === 'keep' || mode === b.channels) return { ...b, bitDepth: 8 };
      source = sharp(b.data, { raw: { width: b.width, height: b.height, channels: b.channels } });
      channels = b.channels;
      sixteen = false;
    } else {
      const m = await sharp(bytes).metadata();
      channels = m.channels ?? 1;
      sixteen = sixteenBit(m.depth, path);
      source = sharp(bytes, { failOn: 'error' });
    }
    const target = mode === 'keep' ? channels : mode;
    return await decode(source, target as 1 | 2 | 3 | 4, sixteen, channels);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('UNREADABLE', `cannot decode image ${path}: ${reason(err)}`, path);
  }
}

// ITU-R 601 luma, as PIL's convert('L') and OpenCV's cvtColor(RGB2GRAY) compute it (libvips' own b-w conversion
// works in linear light and gives other values).
export const LUMA: readonly number[] = [0.299, 0.587, 0.114];

async function decode(source: sharp.Sharp, target: 1 | 2 | 3 | 4, sixteen: boolean, fileChannels: number): Promise<RawImage> {
  // libvips drops the alpha of 8-bit grey+alpha when asked for 'b-w', so that case goes through RGBA; colour to grey
  // goes through RGB and the engine's luma.
  const luma = target === 1 && fileChannels >= 3;
  const via = luma ? 3 : target === 2 && !sixteen ? 4 : target;
  let p = source;
  if (via === 1) p = p.removeAlpha().toColourspace(sixteen ? 'grey16' : 'b-w');
  else if (via === 2) p = p.toColourspace('grey16');
  else if (via === 3) p = p.removeAlpha().toColourspace(sixteen ? 'rgb16' : 'srgb');
  else p = p.ensureAlpha().toColourspace(sixteen ? 'rgb16' : 'srgb');
  const { data, info } = await p.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  let samples: Uint8Array | Uint16Array = sixteen
    ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels !== via) throw new Error(`decoder returned ${info.channels} channels, expected ${via}`);
  if (luma) {
    const rgb: RawImage = { data: samples, width: info.width, height: info.height, channels: 3, bitDepth: sixteen ? 16 : 8 };
    samples = tidy(() => {
      const grey = rawToTensor(rgb).float().matmul(tensor(new Float32Array(LUMA), [3, 1])).permute(2, 0, 1);
      return tensorToImage(grey, { bitDepth: sixteen ? 16 : 8 }).data;
    });
  } else if (via !== target) {
    samples = tidy(() => {
      const pick = tensor(new BigInt64Array([0n, 3n]), [2]);
      return tensor(samples as Uint8Array, [info.height, info.width, 4]).indexSelect(2, pick).contiguous().data() as Uint8Array;
    });
  }
  return { data: samples, width: info.width, height: info.height, channels: target, bitDepth: sixteen ? 16 : 8 };
}

/** Samples as an int32 tensor (uint16 has no engine dtype: reinterpret as int16, widen, mask). */
export function uint16Tensor(data: Uint16Array, shape: number[]): Tensor {
  return tidy(() => {
    const signed = tensor(new Int16Array(data.buffer, data.byteOffset, data.length), shape);
    return callT('bitwise_and.Scalar', [signed.to('int32'), 0xffff]);
  });
}

/** Integer samples of a RawImage as a tensor [H, W, C] (uint8, or int32 for 16-bit). */
export function rawToTensor(img: RawImage): Tensor {
  const shape = [img.height, img.width, img.channels];
  return img.data instanceof Uint16Array ? uint16Tensor(img.data, shape) : tensor(img.data, shape);
}

/** float32 [C, H, W] with the file's sample values (0..255 or 0..65535), channels as decoded. */
export function imageToTensor(img: RawImage): Tensor {
  return tidy(() => rawToTensor(img).permute(2, 0, 1).float().contiguous());
}

/**
 * The inverse of imageToTensor: [C, H, W] or [H, W] (any dtype) to interleaved samples, rounded and clamped to
 * the bit depth's range.
 */
export function tensorToImage(t: Tensor, opts: { bitDepth?: 8 | 16 } = {}): RawImage {
  const bitDepth = opts.bitDepth ?? 8;
  const shape = t.shape;
  if (shape.length !== 2 && shape.length !== 3) throw new DataError('INVALID', `Expected a [C,H,W] or [H,W] tensor but received shape [${shape.join(', ')}]`);
  const [c, h, w] = shape.length === 2 ? [1, shape[0]!, shape[1]!] : (shape as [number, number, number]);
  if (c < 1 || c > 4) throw new DataError('INVALID', `Expected 1 to 4 channels but received ${c}`);
  const data = tidy(() => {
    const hwc = (shape.length === 2 ? t.unsqueeze(0) : t).permute(1, 2, 0).float().round().clamp(0, bitDepth === 16 ? 65535 : 255);
    if (bitDepth === 8) return hwc.to('uint8').contiguous().data() as Uint8Array;
    const i16 = hwc.to('int32').to('int16').contiguous().data() as Int16Array; // wraps 32768..65535 to the same bits
    return new Uint16Array(i16.buffer, i16.byteOffset, i16.length);
  });
  return { data, width: w, height: h, channels: c as 1 | 2 | 3 | 4, bitDepth };
}

/** Writes an image; the format follows the file ending. TIFF is deflate-compressed, WebP lossless, JPEG quality 95. */
export async function writeImage(path: string, img: RawImage, opts: { quality?: number } = {}): Promise<void> {
  const ext = extname(path).toLowerCase();
  const expected = img.width * img.height * img.channels;
  if (img.data.length !== expected) {
    throw new DataError('INVALID', `Expected ${expected} samples for ${img.width}x${img.height}x${img.channels} but received ${img.data.length}`);
  }
  const sixteen = img.data instanceof Uint16Array;
  if (sixteen && !['.png', '.tif', '.tiff'].includes(ext)) {
    throw new DataError('INVALID', `cannot write 16-bit samples to ${ext || 'a file without ending'} (${path}): use .png or .tif`);
  }
  await mkdir(dirname(path), { recursive: true });
  if (ext === '.bmp') {
    await writeFile(path, encodeBmp(img as RawImage & { data: Uint8Array }));
    return;
  }
  let p = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  p = p.toColourspace(img.channels <= 2 ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb');
  switch (ext) {
    case '.png': p = p.png({ compressionLevel: 6 }); break;
    case '.tif': case '.tiff': p = p.tiff({ compression: 'deflate' }); break;
    case '.jpg': case '.jpeg': p = p.jpeg({ quality: opts.quality ?? 95 }); break;
    case '.gif': p = p.gif({ dither: 0 }); break; // exact for up to ~200 distinct values (libimagequant may merge more)
    case '.webp': p = p.webp({ lossless: true }); break;
    default:
      throw new DataError('INVALID', `cannot write image ${path}: unknown ending ${JSON.stringify(ext)} (use ${IMAGE_EXTENSIONS.join(', ')})`);
  }
  await p.toFile(path);
}

/**
 * Writes a label map [H, W] (or [1, H, W]) losslessly (.png, .tif or .bmp). mode 'binary' writes 0/255 (any
 * non-zero label is foreground); 'labels' writes the label indices, 8-bit when they fit and 16-bit otherwise.
 */
export async function writeMask(path: string, mask: Tensor, opts: { mode?: 'binary' | 'labels' } = {}): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (!LOSSLESS_EXTENSIONS.includes(ext)) {
    throw new DataError('INVALID', `cannot write a mask to ${path}: masks need a lossless format (${LOSSLESS_EXTENSIONS.join(', ')})`);
  }
  const shape = mask.shape;
  const hw = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
  if (hw.length !== 2) throw new DataError('INVALID', `Expected a [H,W] mask but received shape [${shape.join(', ')}]`);
  const mode = opts.mode ?? 'binary';
  let img: RawImage;
  if (mode === 'binary') {
    img = tidy(() => tensorToImage(mask.reshape(hw[0]!, hw[1]!).ne(0).to('uint8').mul(255), { bitDepth: 8 }));
  } else {
    const [lo, hi] = tidy(() => [mask.min().item(), mask.max().item()]);
    if (lo! < 0 || hi! > 65535) throw new DataError('INVALID', `cannot write labels ${lo}..${hi} to ${path}: labels must be in 0..65535`);
    const bitDepth = hi! > 255 ? 16 : 8;
    if (bitDepth === 16 && ext === '.bmp') throw new DataError('INVALID', `labels up to ${hi} need 16 bits: write .png or .tif instead of ${path}`);
    img = tensorToImage(mask.reshape(hw[0]!, hw[1]!), { bitDepth });
  }
  await writeImage(path, img);
}

/** True when the path exists and is a file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
