// Test helpers for src/data: temporary folders, synthetic images, a minimal DICOM Part-10 writer, and a check of
// NIfTI files with an independent reader (python's struct + numpy).
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { PYTHON } from '../helpers/torchRef.ts';

/** Repository root (tests reference ../shared/data relative to it). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DATA = join(REPO, '..', 'shared', 'data');

export function tempDir(prefix = 'samtutor-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes an 8-bit PNG/JPEG/... from a fill function over (x, y, channel). */
export async function writeSynthetic(path: string, width: number, height: number, channels: 1 | 3, fill: (x: number, y: number, c: number) => number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
  let p = sharp(data, { raw: { width, height, channels } }).toColourspace(channels === 1 ? 'b-w' : 'srgb');
  if (path.endsWith('.jpg')) p = p.jpeg({ quality: 80 });
  else if (path.endsWith('.gif')) p = p.gif();
  else p = p.png();
  await p.toFile(path);
}

/** A square foreground in a 0/255 mask. */
export const squareMask = (x0: number, y0: number, size: number) => (x: number, y: number): number =>
  x >= x0 && x < x0 + size && y >= y0 && y < y0 + size ? 255 : 0;

export function touch(path: string, content: string | Uint8Array = 'x'): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

// ---- DICOM Part-10 writer (just enough for volumes: CT image IOD core attributes) ----

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  explicitBE: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.91',
} as const;

export interface DicomSliceSpec {
  rows: number;
  cols: number;
  /** Stored pixel values, row-major. */
  pixels: Int16Array | Uint16Array | Uint8Array;
  signed: boolean;
  bitsStored?: number;
  position?: [number, number, number];
  orientation?: [number, number, number, number, number, number];
  pixelSpacing?: [number, number];
  slope?: number;
  intercept?: number;
  seriesUid?: string;
  instance: number;
  transferSyntax?: string;
  /** false: no 128-byte preamble / DICM / meta group (a bare implicit-VR dataset). */
  part10?: boolean;
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function element(group: number, elem: number, vr: string, value: Buffer, explicit: boolean, bigEndian: boolean, undefinedLength = false): Buffer {
  const len = undefinedLength ? 0xffffffff : value.length;
  const tag = Buffer.alloc(4);
  if (bigEndian && group !== 0x0002) { tag.writeUInt16BE(group, 0); tag.writeUInt16BE(elem, 2); } else { tag.writeUInt16LE(group, 0); tag.writeUInt16LE(elem, 2); }
  let head: Buffer;
  if (!explicit) {
    head = Buffer.alloc(4);
    bigEndian ? head.writeUInt32BE(len, 0) : head.writeUInt32LE(len, 0);
  } else if (LONG_VRS.has(vr)) {
    head = Buffer.alloc(8);
    head.write(vr, 0, 'latin1');
    bigEndian && group !== 0x0002 ? head.writeUInt32BE(len, 4) : head.writeUInt32LE(len, 4);
  } else {
    head = Buffer.alloc(4);
    head.write(vr, 0, 'latin1');
    bigEndian && group !== 0x0002 ? head.writeUInt16BE(len, 2) : head.writeUInt16LE(len, 2);
  }
  return Buffer.concat([tag, head, value]);
}

const str = (s: string, pad = ' '): Buffer => Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
const us = (v: number, be: boolean): Buffer => { const b = Buffer.alloc(2); be ? b.writeUInt16BE(v) : b.writeUInt16LE(v); return b; };
const ds = (...v: number[]): Buffer => str(v.map((x) => String(x)).join('\\'));

export function writeDicomSlice(path: string, s: DicomSliceSpec): void {
  const ts = s.transferSyntax ?? TS.explicitLE;
  const part10 = s.part10 ?? true;
  const explicit = part10 && ts !== TS.implicitLE;
  const be = ts === TS.explicitBE;
  const compressed = ts === TS.jpegBaseline || ts === TS.jpeg2000;
  const bits = s.pixels instanceof Uint8Array ? 8 : 16;
  const sop = `1.2.826.0.1.3680043.2.1125.${s.instance}.${Math.abs(s.position?.[2] ?? 0) * 1000 | 0}`;
  const el = (g: number, e: number, vr: string, v: Buffer, undef = false): Buffer => element(g, e, vr, v, explicit, be, undef);
  let pixelBytes = Buffer.from(s.pixels.buffer, s.pixels.byteOffset, s.pixels.byteLength);
  if (be && bits === 16) pixelBytes = Buffer.from(pixelBytes).swap16();
  const items: Buffer[] = [
    el(0x0008, 0x0016, 'UI', str('1.2.840.10008.5.1.4.1.1.2', '\0')),
    el(0x0008, 0x0018, 'UI', str(sop, '\0')),
    el(0x0008, 0x0060, 'CS', str('CT')),
    el(0x0018, 0x0050, 'DS', ds(2.5)),
    el(0x0020, 0x000d, 'UI', str('1.2.3.4', '\0')),
    el(0x0020, 0x000e, 'UI', str(s.seriesUid ?? '1.2.3.4.5', '\0')),
    el(0x0020, 0x0013, 'IS', str(String(s.instance))),
  ];
  if (s.position) items.push(el(0x0020, 0x0032, 'DS', ds(...s.position)));
  if (s.orientation) items.push(el(0x0020, 0x0037, 'DS', ds(...s.orientation)));
  items.push(
    el(0x0028, 0x0002, 'US', us(1, be)),
    el(0x0028, 0x0004, 'CS', str('MONOCHROME2')),
    el(0x0028, 0x0010, 'US', us(s.rows, be)),
    el(0x0028, 0x0011, 'US', us(s.cols, be)),
  );
  if (s.pixelSpacing) items.push(el(0x0028, 0x0030, 'DS', ds(...s.pixelSpacing)));
  const stored = s.bitsStored ?? bits;
  items.push(
    el(0x0028, 0x0100, 'US', us(bits, be)),
    el(0x0028, 0x0101, 'US', us(stored, be)),
    el(0x0028, 0x0102, 'US', us(stored - 1, be)),
    el(0x0028, 0x0103, 'US', us(s.signed ? 1 : 0, be)),
    el(0x0028, 0x1052, 'DS', ds(s.intercept ?? 0)),
    el(0x0028, 0x1053, 'DS', ds(s.slope ?? 1)),
  );
  if (compressed) { // encapsulated: empty offset table item, one fragment, sequence delimiter
    const item = (bytes: Buffer): Buffer => { const h = Buffer.alloc(8); h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(0xe000, 2); h.writeUInt32LE(bytes.length, 4); return Buffer.concat([h, bytes]); };
    const delim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    items.push(Buffer.concat([el(0x7fe0, 0x0010, 'OB', Buffer.alloc(0), true).subarray(0, 12), item(Buffer.alloc(0)), item(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), delim]));
  } else {
    items.push(el(0x7fe0, 0x0010, bits === 8 ? 'OB' : 'OW', pixelBytes));
  }
  let dataset = Buffer.concat(items);
  if (ts === TS.deflated) dataset = deflateRawSync(dataset);
  if (!part10) {
    writeFileSync(path, dataset);
    return;
  }
  const meta = (g: number, e: number, vr: string, v: Buffer): Buffer => element(g, e, vr, v, true, false);
  const metaBody = Buffer.concat([
    meta(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    meta(0x0002, 0x0002, 'UI', str('1.2.840.10008.5.1.4.1.1.2', '\0')),
    meta(0x0002, 0x0003, 'UI', str(sop, '\0')),
    meta(0x0002, 0x0010, 'UI', str(ts, '\0')),
    meta(0x0002, 0x0012, 'UI', str('1.2.3.999', '\0')),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta(0x0002, 0x0000, 'UL', groupLength), metaBody, dataset]));
}

// ---- independent NIfTI check ----

export const hasPythonNumpy = (): boolean => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

const PY_NIFTI = `
import gzip, json, struct, sys
import numpy as np
path = sys.argv[1]
raw = open(path, 'rb').read()
if raw[:2] == b'\\x1f\\x8b': raw = gzip.decompress(raw)
h = raw[:348]
dim = struct.unpack('<8h', h[40:56])
datatype, bitpix = struct.unpack('<hh', h[70:74])
pixdim = struct.unpack('<8f', h[76:108])
vox_offset = struct.unpack('<f', h[108:112])[0]
slope, inter = struct.unpack('<ff', h[112:120])
qform, sform = struct.unpack('<hh', h[252:256])
quat = struct.unpack('<6f', h[256:280])
srow = struct.unpack('<12f', h[280:328])
dt = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 256: np.int8, 1024: np.int64}[datatype]
n = dim[0]
shape = tuple(dim[1:1 + n])
a = np.frombuffer(raw[int(vox_offset):], dtype=dt, count=int(np.prod(shape))).reshape(shape, order='F')
print(json.dumps({'sizeof_hdr': struct.unpack('<i', h[:4])[0], 'magic': h[344:348].decode('latin1'), 'dim': dim, 'datatype': datatype,
  'bitpix': bitpix, 'pixdim': pixdim, 'vox_offset': vox_offset, 'scl': [slope, inter], 'qform_code': qform, 'sform_code': sform,
  'quatern': quat, 'srow': srow, 'sum': float(a.astype(np.float64).sum()), 'value_at_ijk_123': float(a[1, 2, 3]) if n >= 3 and min(shape[:3]) > 3 else None}))
`;

export function pythonNiftiHeader(path: string): Record<string, unknown> {
  const r = spawnSync(PYTHON, ['-c', PY_NIFTI, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python NIfTI check failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

export { PYTHON };
