// BMP decode/encode. sharp's prebuilt libvips has no BMP loader or saver, and the small npm BMP codecs we looked at
// misread common files (palette ignored for 8-bit, top-down rows unsupported, masks read from the wrong offset for
// 40-byte headers). BMP is a fixed header plus padded rows, so we parse the header here and let the tensor engine
// do all per-pixel work (bit unpacking, palette lookup, BGR→RGB, row flip, padding): no JS loop touches pixels.
import { tensor, tidy, callT, type Tensor } from '../engine/index.ts';
import { DataError } from './errors.ts';

export interface BmpImage {
  /** Interleaved 8-bit samples, row-major [height, width, channels], top row first. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 (grey palette), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
}

const COMPRESSION_NAMES: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'embedded JPEG', 5: 'embedded PNG' };

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Decodes 1/4/8-bit palette, 24-bit and 32-bit (BI_RGB or standard BI_BITFIELDS) BMP files, bottom-up or top-down. */
export function decodeBmp(bytes: Uint8Array, path = '<buffer>'): BmpImage {
  const bad = (why: string): DataError => new DataError('UNREADABLE', `cannot decode BMP ${path}: ${why}`, path);
  if (!isBmp(bytes) || bytes.length < 26) throw bad('missing BM signature or header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const hdr = dv.getUint32(14, true);
  let width: number, rawHeight: number, bpp: number, compression = 0, colorsUsed = 0;
  if (hdr === 12) {
    width = dv.getUint16(18, true); rawHeight = dv.getInt16(20, true); bpp = dv.getUint16(24, true);
  } else if (hdr >= 40 && bytes.length >= 14 + hdr) {
    width = dv.getInt32(18, true); rawHeight = dv.getInt32(22, true); bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true); colorsUsed = dv.getUint32(46, true);
  } else {
    throw bad(`unknown DIB header size ${hdr}`);
  }
  const unsupported = (why: string): DataError => new DataError('UNSUPPORTED', `cannot decode BMP ${path}: ${why}`, path);
  if (COMPRESSION_NAMES[compression]) throw unsupported(`${COMPRESSION_NAMES[compression]} compression is not supported (save it uncompressed)`);
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw bad(`invalid size ${width}x${rawHeight}`);

  let alpha = false;
  if (bpp === 32 && (compression === 3 || compression === 6)) {
    const [r, g, b] = [dv.getUint32(54, true), dv.getUint32(58, true), dv.getUint32(62, true)];
    if (r !== 0xff0000 || g !== 0xff00 || b !== 0xff) throw unsupported(`32-bit bit fields ${[r, g, b].map((m) => m.toString(16)).join('/')} (only BGRA order is read)`);
  } else if (compression !== 0) {
    throw unsupported(`compression ${compression} with ${bpp} bits per pixel`);
  }
  if (bpp === 32 && (hdr >= 56 || compression === 6)) alpha = dv.getUint32(66, true) === 0xff000000;
  if (![1, 4, 8, 24, 32].includes(bpp)) throw unsupported(`${bpp} bits per pixel (1, 4, 8, 24 and 32 are read)`);

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) throw bad(`truncated: ${bytes.length} bytes, pixel rows need ${dataOffset + stride * height}`);
  const rowsBytes = bytes.subarray(dataOffset, dataOffset + stride * height);

  let palette: Uint8Array | null = null;
  let grey = false;
  if (bpp <= 8) {
    const entry = hdr === 12 ? 3 : 4;
    const start = 14 + hdr + (hdr === 40 && compression === 3 ? 12 : 0);
    const count = Math.min(colorsUsed || 1 << bpp, Math.floor((dataOffset - start) / entry));
    if (count <= 0) throw bad('palette missing');
    palette = new Uint8Array(count * 3); // RGB; the palette is at most 256 entries, not pixel data
    grey = true;
    for (let i = 0; i < count; i++) {
      const b = bytes[start + i * entry]!, g = bytes[start + i * entry + 1]!, r = bytes[start + i * entry + 2]!;
      palette.set([r, g, b], i * 3);
      if (r !== g || g !== b) grey = false;
    }
  }
  const channels: 1 | 3 | 4 = palette ? (grey ? 1 : 3) : alpha ? 4 : 3;
  const data = tidy(() => {
    const rows = tensor(rowsBytes, [height, stride]);
    let px: Tensor;
    if (palette) {
      let idx: Tensor;
      if (bpp === 8) {
        idx = rows.narrow(1, 0, width);
      } else {
        const per = 8 / bpp;
        const shifts = tensor(Uint8Array.from({ length: per }, (_, i) => 8 - bpp * (i + 1)), [per]);
        const unpacked = callT('bitwise_right_shift.Tensor', [rows.unsqueeze(2), shifts]);
        idx = callT('bitwise_and.Scalar', [unpacked, (1 << bpp) - 1]).reshape(height, stride * per).narrow(1, 0, width);
      }
      const n = palette.length / 3;
      let pal = tensor(palette, [n, 3]);
      if (grey) pal = pal.narrow(1, 0, 1);
      px = pal.indexSelect(0, idx.clamp(0, n - 1).flatten().long()).view(height, width, channels);
    } else {
      const c = bpp / 8;
      const order = tensor(new BigInt64Array(channels === 4 ? [2n, 1n, 0n, 3n] : [2n, 1n, 0n]), [channels]);
      px = rows.narrow(1, 0, width * c).reshape(height, width, c).indexSelect(2, order);
    }
    if (rawHeight > 0) px = px.flip(0); // stored bottom-up
    return px.contiguous().data() as Uint8Array;
  });
  return { data, width, height, channels };
}

/** Encodes 8-bit grey (as an 8-bit grey palette), RGB (24-bit) or RGBA (32-bit, V4 header with an alpha mask). */
export function encodeBmp(img: { data: Uint8Array; width: number; height: number; channels: number }): Uint8Array {
  const { width, height, channels } = img;
  if (!(img.data instanceof Uint8Array)) throw new DataError('INVALID', 'BMP stores 8-bit samples only: convert 16-bit data before writing .bmp');
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new DataError('INVALID', `Expected 1, 3 or 4 channels for a BMP but received ${channels}`);
  }
  const bpp = channels * 8;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const hdr = channels === 4 ? 108 : 40;
  const paletteBytes = channels === 1 ? 1024 : 0;
  const offset = 14 + hdr + paletteBytes;
  const out = new Uint8Array(offset + stride * height);
  const dv = new DataView(out.buffer);
  out[0] = 0x42; out[1] = 0x4d;
  dv.setUint32(2, out.length, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, hdr, true);
  dv.setInt32(18, width, true);
  dv.setInt32(22, height, true); // positive: bottom-up, the form every reader accepts
  dv.setUint16(26, 1, true);
  dv.setUint16(28, bpp, true);
  dv.setUint32(30, channels === 4 ? 3 : 0, true);
  dv.setUint32(34, stride * height, true);
  dv.setInt32(38, 2835, true); dv.setInt32(42, 2835, true); // 72 dpi
  if (channels === 1) {
    dv.setUint32(46, 256, true);
    for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 14 + hdr + i * 4);
  }
  if (channels === 4) {
    dv.setUint32(54, 0xff0000, true); dv.setUint32(58, 0xff00, true); dv.setUint32(62, 0xff, true); dv.setUint32(66, 0xff000000, true);
    dv.setUint32(70, 0x73524742, true); // 'sRGB'
  }
  const rows = tidy(() => {
    let px = tensor(img.data, [height, width, channels]);
    if (channels >= 3) {
      const order = tensor(new BigInt64Array(channels === 4 ? [2n, 1n, 0n, 3n] : [2n, 1n, 0n]), [channels]);
      px = px.indexSelect(2, order);
    }
    const flat = px.flip(0).reshape(height, width * channels);
    return callT('constant_pad_nd', [flat, [0, stride - width * channels], 0]).contiguous().data() as Uint8Array;
  });
  out.set(rows, offset);
  return out;
}
