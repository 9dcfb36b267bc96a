// NIfTI-1/2 volumes. Reading uses nifti-reader-js for the header and data block (gunzip through node's zlib, which is
// native and faster than the library's JS inflate). Writing is done here: nifti-reader-js only reads, and the npm
// NIfTI writers are unmaintained or browser-only, while a NIfTI-1 file is just a fixed 348-byte little-endian
// header, a 4-byte extension flag and the raw voxels (gzipped for .nii.gz).
//
// Tensor layout: the voxel block is read as-is into a row-major tensor whose shape is the reversed NIfTI dims:
// [D, H, W] = [nk, nj, ni] for 3D, [T, D, H, W] for 4D. See geometry.ts for the spacing and affine conventions.
import * as nifti from 'nifti-reader-js';
import { readFile, writeFile, mkdir, open } from 'node:fs/promises';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { dirname } from 'node:path';
import { tensor, tidy, callT, type Tensor, type DType } from '../engine/index.ts';
import { DataError, reason } from './errors.ts';
import {
  type Mat4, type NiftiHeaderInfo, type VolumeGeometry, affineToQuatern, affineZooms, orientationCodes, quaternToAffine,
} from './geometry.ts';

/** NIfTI datatype codes we read, with their names, byte sizes and the engine dtype they load as. */
const DATATYPES: Record<number, { name: string; bytes: number; dtype: DType }> = {
  2: { name: 'uint8', bytes: 1, dtype: 'uint8' },
  256: { name: 'int8', bytes: 1, dtype: 'int8' },
  4: { name: 'int16', bytes: 2, dtype: 'int16' },
  512: { name: 'uint16', bytes: 2, dtype: 'int32' },
  8: { name: 'int32', bytes: 4, dtype: 'int32' },
  768: { name: 'uint32', bytes: 4, dtype: 'int64' },
  1024: { name: 'int64', bytes: 8, dtype: 'int64' },
  16: { name: 'float32', bytes: 4, dtype: 'float32' },
  64: { name: 'float64', bytes: 8, dtype: 'float64' },
};
const UNSUPPORTED_TYPES: Record<number, string> = {
  1: 'binary (1-bit)', 32: 'complex64', 128: 'rgb24', 1280: 'uint64', 1536: 'float128', 1792: 'complex128', 2048: 'complex256', 2304: 'rgba32',
};
/** Engine dtype → NIfTI datatype code for writing. */
const WRITE_CODES: Partial<Record<DType, number>> = {
  uint8: 2, bool: 2, int8: 256, int16: 4, int32: 8, int64: 1024, float32: 16, float64: 64, float16: 16, bfloat16: 16,
};

export interface NiftiVolume {
  /** [D, H, W] (or [T, D, H, W]); the stored dtype (uint16 → int32, uint32 → int64), or float32/64 after scl_slope/inter. */
  data: Tensor;
  geometry: VolumeGeometry;
}

export function isNiftiPath(path: string): boolean {
  const p = path.toLowerCase();
  return p.endsWith('.nii') || p.endsWith('.nii.gz') || p.endsWith('.hdr') || p.endsWith('.hdr.gz');
}

async function bytesOf(path: string): Promise<ArrayBuffer> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('NOT_FOUND', `volume not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read ${path}: ${reason(err)}`, path);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DataError('UNREADABLE', `cannot read NIfTI ${path}: gzip stream is corrupt (${reason(err)})`, path);
    }
  }
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Reads a .nii, .nii.gz or .hdr/.img pair. `scale: false` skips scl_slope/scl_inter. */
export async function readNifti(path: string, opts: { scale?: boolean } = {}): Promise<NiftiVolume> {
  const pair = /\.hdr(\.gz)?$/i.test(path);
  const buf = await bytesOf(path);
  const bad = (why: string): DataError => new DataError('UNREADABLE', `cannot read NIfTI ${path}: ${why}`, path);
  if (buf.byteLength < 348 || !nifti.isNIFTI(buf, pair)) throw bad('not a NIfTI-1/2 file (bad header size or magic)');
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(buf, pair);
  } catch (err) {
    throw bad(reason(err));
  }
  const info = headerInfo(header, buf, path);
  const type = DATATYPES[info.datatypeCode];
  if (!type) {
    const name = UNSUPPORTED_TYPES[info.datatypeCode] ?? `code ${info.datatypeCode}`;
    throw new DataError('UNSUPPORTED', `cannot read NIfTI ${path}: datatype ${name} is not supported`, path);
  }
  let ndim = info.dim[0]!;
  if (ndim < 1 || ndim > 7) throw bad(`dim[0] = ${ndim}`);
  while (ndim > 3 && info.dim[ndim] === 1) ndim--; // trailing singleton dims (e.g. 4D with one frame)
  if (ndim > 4) throw new DataError('UNSUPPORTED', `cannot read NIfTI ${path}: ${ndim}-D data (up to 4-D is read)`, path);
  const niiDims = info.dim.slice(1, 1 + Math.max(ndim, 3)).map((d) => (d > 0 ? d : 1));
  const count = niiDims.reduce((a, b) => a * b, 1);
  const byteLength = count * type.bytes;

  let block: ArrayBuffer;
  if (pair) {
    const imgPath = path.replace(/\.hdr(\.gz)?$/i, (_m, gz: string | undefined) => `.img${gz ?? ''}`);
    const img = await bytesOf(imgPath);
    block = img.slice(Number(header.vox_offset), Number(header.vox_offset) + byteLength);
  } else {
    block = nifti.readImage(header, buf);
    if (block.byteLength > byteLength) block = block.slice(0, byteLength);
  }
  if (block.byteLength < byteLength) throw bad(`truncated: ${block.byteLength} of ${byteLength} data bytes present`);
  if (!info.littleEndian && type.bytes > 1) {
    const b = Buffer.from(block);
    if (type.bytes === 2) b.swap16(); else if (type.bytes === 4) b.swap32(); else b.swap64();
  }
  const shape = [...niiDims].reverse();
  const data = tidy(() => {
    let t = typedTensor(block, info.datatypeCode, shape);
    const slope = info.sclSlope, inter = info.sclInter;
    if ((opts.scale ?? true) && Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0)) {
      t = t.to(type.dtype === 'float64' ? 'float64' : 'float32').mul(slope).add(Number.isFinite(inter) ? inter : 0);
    }
    return t;
  });
  return { data, geometry: geometryFromHeader(info, shape.slice(-3) as [number, number, number]) };
}

/** Header-only read (the first few KB of the file): geometry and stored datatype, no voxels. */
export async function readNiftiInfo(path: string): Promise<{ geometry: VolumeGeometry; datatype: string }> {
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(8192), 0, 8192, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('NOT_FOUND', `volume not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read ${path}: ${reason(err)}`, path);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      head = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new DataError('UNREADABLE', `cannot read NIfTI ${path}: gzip stream is corrupt (${reason(err)})`, path);
    }
  }
  const buf = head.buffer.slice(head.byteOffset, head.byteOffset + head.byteLength) as ArrayBuffer;
  const pair = /\.hdr(\.gz)?$/i.test(path);
  if (buf.byteLength < 348 || !nifti.isNIFTI(buf, pair)) throw new DataError('UNREADABLE', `cannot read NIfTI ${path}: not a NIfTI-1/2 file (bad header size or magic)`, path);
  const info = headerInfo(nifti.readHeader(buf, pair), buf, path);
  const n = Math.max(3, Math.min(info.dim[0]!, 4));
  const shape = info.dim.slice(1, 1 + n).map((d) => (d > 0 ? d : 1)).reverse();
  return { geometry: geometryFromHeader(info, shape.slice(-3) as [number, number, number]), datatype: info.datatype };
}

function typedTensor(block: ArrayBuffer, code: number, shape: number[]): Tensor {
  switch (code) {
    case 2: return tensor(new Uint8Array(block), shape);
    case 256: return tensor(new Int8Array(block), shape);
    case 4: return tensor(new Int16Array(block), shape);
    case 512: return callT('bitwise_and.Scalar', [tensor(new Int16Array(block), shape).to('int32'), 0xffff]);
    case 8: return tensor(new Int32Array(block), shape);
    case 768: return callT('bitwise_and.Scalar', [tensor(new Int32Array(block), shape).to('int64'), 0xffffffff]);
    case 1024: return tensor(new BigInt64Array(block), shape);
    case 16: return tensor(new Float32Array(block), shape);
    default: return tensor(new Float64Array(block), shape);
  }
}

function headerInfo(h: nifti.NIFTI1 | nifti.NIFTI2, buf: ArrayBuffer, path: string): NiftiHeaderInfo {
  const version = h instanceof nifti.NIFTI2 ? 2 : 1;
  const dv = new DataView(buf);
  const le = h.littleEndian;
  const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) =>
    version === 1 ? dv.getFloat32(280 + (r * 4 + c) * 4, le) : dv.getFloat64(400 + (r * 4 + c) * 8, le)));
  const name = DATATYPES[h.datatypeCode]?.name ?? UNSUPPORTED_TYPES[h.datatypeCode] ?? `code ${h.datatypeCode}`;
  const dim = h.dims.map(Number);
  if (dim.length < 8) throw new DataError('UNREADABLE', `cannot read NIfTI ${path}: short dim array`, path);
  return {
    version,
    datatypeCode: h.datatypeCode,
    datatype: name,
    bitpix: h.numBitsPerVoxel,
    dim,
    pixdim: h.pixDims.map(Number),
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    qfac: h.pixDims[0]! < 0 ? -1 : 1,
    srow,
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    xyztUnits: h.xyzt_units,
    dimInfo: h.dim_info,
    intentCode: h.intent_code,
    intentName: h.intent_name,
    intentP: [h.intent_p1, h.intent_p2, h.intent_p3],
    description: h.description,
    auxFile: h.aux_file,
    calMin: h.cal_min,
    calMax: h.cal_max,
    sliceCode: h.slice_code,
    sliceStart: Number(h.slice_start),
    sliceEnd: Number(h.slice_end),
    sliceDuration: h.slice_duration,
    toffset: h.toffset,
    littleEndian: le,
  };
}

/** The affine a NIfTI header defines, by nibabel's priority: sform (code > 0), else qform (code > 0), else pixdim. */
export function niftiAffine(info: NiftiHeaderInfo): Mat4 {
  const d: [number, number, number] = [info.pixdim[1]!, info.pixdim[2]!, info.pixdim[3]!];
  if (info.sformCode > 0) return [...info.srow.map((r) => [...r]), [0, 0, 0, 1]];
  if (info.qformCode > 0) return quaternToAffine(info.quatern, info.qoffset, d, info.qfac);
  return [[d[0] || 1, 0, 0, 0], [0, d[1] || 1, 0, 0], [0, 0, d[2] || 1, 0], [0, 0, 0, 1]];
}

function geometryFromHeader(info: NiftiHeaderInfo, shape: [number, number, number]): VolumeGeometry {
  const affine = niftiAffine(info);
  const pd = info.pixdim;
  const spacing: [number, number, number] = [pd[3]! || 1, pd[2]! || 1, pd[1]! || 1].map(Math.abs) as [number, number, number];
  return { kind: 'volume', shape, spacing, affine, orientation: orientationCodes(affine), source: 'nifti', nifti: info };
}

/** A geometry for a plain array: given spacing [dk, dj, di] and an optional RAS+ affine (default: diagonal spacing). */
export function makeGeometry(shape: [number, number, number], spacing: [number, number, number] = [1, 1, 1], affine?: Mat4): VolumeGeometry {
  const a = affine ?? [[spacing[2], 0, 0, 0], [0, spacing[1], 0, 0], [0, 0, spacing[0], 0], [0, 0, 0, 1]];
  return { kind: 'volume', shape, spacing, affine: a, orientation: orientationCodes(a), source: 'nifti' };
}

export interface WriteNiftiOptions {
  /** Written to the 80-byte descrip field (default 'samtutor'). */
  description?: string;
  /** Store as this dtype (default: the tensor's; bool → uint8, float16/bfloat16 → float32). */
  dtype?: DType;
}

/**
 * Writes a [D, H, W] (or [T, D, H, W]) tensor as NIfTI-1 (.nii, or gzipped .nii.gz). With a geometry read from a
 * NIfTI file, pixdim, qform, sform, their codes, units and dim_info are copied exactly, so a prediction lands on the
 * source grid; other geometries are written as sform = qform = affine with code 1 (scanner).
 */
export async function writeNifti(path: string, data: Tensor, geometry?: VolumeGeometry | null, opts: WriteNiftiOptions = {}): Promise<void> {
  const shape = data.shape;
  if (shape.length < 2 || shape.length > 4) throw new DataError('INVALID', `Expected a [D,H,W] or [T,D,H,W] tensor for writeNifti but received shape [${shape.join(', ')}]`);
  if (!/\.nii(\.gz)?$/i.test(path)) throw new DataError('INVALID', `Expected a .nii or .nii.gz path for writeNifti but received ${path}`);
  const spatial = shape.length === 2 ? [1, ...shape] : shape.slice(-3);
  if (geometry && geometry.shape.some((s, i) => s !== spatial[i])) {
    throw new DataError('INVALID', `cannot write ${path}: data shape [${spatial.join(', ')}] differs from the geometry's [${geometry.shape.join(', ')}]`);
  }
  const dtype = opts.dtype ?? data.dtype;
  const code = WRITE_CODES[dtype];
  if (code === undefined) throw new DataError('INVALID', `cannot write dtype ${dtype} to NIfTI`);
  const type = DATATYPES[code]!;
  const niiDims = [...shape].reverse();
  const header = buildHeader(niiDims, code, type.bytes * 8, geometry ?? null, opts.description ?? 'samtutor');
  const voxels = tidy(() => {
    const t = data.dtype === type.dtype ? data.contiguous() : data.to(type.dtype).contiguous();
    return t.data();
  });
  const body = Buffer.concat([header, Buffer.from(voxels.buffer, voxels.byteOffset, voxels.byteLength)]);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, /\.gz$/i.test(path) ? gzipSync(body, { level: 6 }) : body);
}

function buildHeader(niiDims: number[], datatype: number, bitpix: number, geometry: VolumeGeometry | null, description: string): Buffer {
  const b = Buffer.alloc(352); // 348-byte header + 4-byte extension flag (all zero: no extensions)
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const src = geometry?.nifti;
  dv.setInt32(0, 348, true);
  b[38] = 'r'.charCodeAt(0);
  b[39] = src?.dimInfo ?? 0;
  dv.setInt16(40, niiDims.length, true);
  for (let i = 0; i < 7; i++) dv.setInt16(42 + i * 2, niiDims[i] ?? 1, true);
  dv.setInt16(70, datatype, true);
  dv.setInt16(72, bitpix, true);
  let pixdim: number[], qformCode: number, sformCode: number, quatern: number[], qoffset: number[], srow: number[][], units: number;
  if (src) {
    pixdim = [...src.pixdim];
    ({ qformCode, sformCode, quatern, qoffset, srow } = src);
    units = src.xyztUnits;
  } else {
    const affine = geometry?.affine ?? [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const q = affineToQuatern(affine);
    const zooms = affineZooms(affine);
    pixdim = [q.qfac, zooms[0], zooms[1], zooms[2], 1, 1, 1, 1];
    qformCode = 1; sformCode = 1;
    quatern = q.quatern; qoffset = q.offset;
    srow = affine.slice(0, 3).map((r) => [...r]);
    units = 2 | 8; // mm, s
  }
  for (let i = 0; i < 8; i++) dv.setFloat32(76 + i * 4, src || i <= niiDims.length ? pixdim[i] ?? 1 : 1, true);
  dv.setFloat32(108, 352, true); // vox_offset
  dv.setFloat32(112, 1, true); // scl_slope: stored values are the values
  dv.setFloat32(116, 0, true);
  b[123] = units;
  b.write(description.slice(0, 79), 148, 'latin1');
  dv.setInt16(252, qformCode, true);
  dv.setInt16(254, sformCode, true);
  for (let i = 0; i < 3; i++) dv.setFloat32(256 + i * 4, quatern[i]!, true);
  for (let i = 0; i < 3; i++) dv.setFloat32(268 + i * 4, qoffset[i]!, true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + (r * 4 + c) * 4, srow[r]![c]!, true);
  b.write('n+1\0', 344, 'latin1');
  return b;
}
