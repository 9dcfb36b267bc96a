// DICOM series → volume. dicom-parser reads each Part-10 file (or a bare implicit-VR dataset); slices are sorted by
// ImagePositionPatient projected on the slice normal (row × column direction cosines), the slice spacing is the
// median gap between those projections, in-plane spacing comes from PixelSpacing, and RescaleSlope/Intercept are
// applied per slice. Uncompressed transfer syntaxes (implicit/explicit little endian, explicit big endian, deflated)
// are read; compressed pixel data is rejected naming its transfer syntax.
//
// Output: float32 [D, H, W] = [slice, row, column], spacing [dz, dy, dx]; the affine maps (column i, row j, slice k)
// to RAS+ (DICOM patient coordinates are LPS+, so x and y change sign), ready for writeNifti.
import dicomParser from 'dicom-parser';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tensor, tidy, callT, type Tensor } from '../engine/index.ts';
import { DataError, listFew, reason } from './errors.ts';
import { type DicomSeriesInfo, type Mat4, type VolumeGeometry, orientationCodes } from './geometry.ts';

type Vec3 = [number, number, number];

const UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
};
const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, First-Order Prediction (Process 14 SV1)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
};
const NOT_DICOM = /\.(txt|json|xml|csv|md|html?|ini|zip|gz|nii|png|jpe?g)$/i;

interface Slice {
  file: string;
  rows: number;
  cols: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  bigEndian: boolean;
  pixels: Uint8Array;
  position: Vec3 | null;
  orientation: [number, number, number, number, number, number] | null;
  pixelSpacing: [number, number] | null;
  thickness: number | null;
  spacingBetween: number | null;
  instance: number;
  slope: number;
  intercept: number;
  seriesUid: string;
  modality: string;
  transferSyntax: string;
}

const text = (err: unknown): string => {
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return text((err as { exception: unknown }).exception);
  return reason(err);
};

function parse(bytes: Uint8Array, file: string): dicomParser.DataSet {
  try {
    return dicomParser.parseDicom(bytes);
  } catch (err) {
    const msg = text(err);
    if (!msg.includes('DICM prefix not found')) throw new DataError('UNREADABLE', `cannot read DICOM ${file}: ${msg}`, file);
  }
  try { // no Part-10 preamble: a bare dataset, which the standard says is implicit VR little endian
    return dicomParser.parseDicom(bytes, { TransferSyntaxUID: '1.2.840.10008.1.2' });
  } catch (err) {
    throw new DataError('UNREADABLE', `cannot read DICOM ${file}: not a DICOM file (${text(err)})`, file);
  }
}

function readSlice(bytes: Uint8Array, file: string): Slice | null {
  const ds = parse(bytes, file);
  const ts = (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
  const pixel = ds.elements['x7fe00010'];
  if (!pixel) return null; // not an image (report, structure set, ...)
  if (!UNCOMPRESSED[ts] || pixel.encapsulatedPixelData) {
    const name = COMPRESSED[ts] ?? (UNCOMPRESSED[ts] ? 'encapsulated pixel data' : 'unknown transfer syntax');
    throw new DataError('UNSUPPORTED', `cannot read DICOM ${file}: transfer syntax ${ts} (${name}) is compressed; only uncompressed pixel data is read (decompress first, e.g. gdcmconv --raw or dcmdjpeg)`, file);
  }
  const rows = ds.uint16('x00280010'), cols = ds.uint16('x00280011');
  const bitsAllocated = ds.uint16('x00280100') ?? 16;
  const samples = ds.uint16('x00280002') ?? 1;
  const frames = ds.intString('x00280008') ?? 1;
  if (!rows || !cols) throw new DataError('UNREADABLE', `cannot read DICOM ${file}: Rows/Columns missing`, file);
  if (samples !== 1) throw new DataError('UNSUPPORTED', `cannot read DICOM ${file}: ${samples} samples per pixel (${ds.string('x00280004') ?? '?'}); only single-channel slices form a volume`, file);
  if (frames !== 1) throw new DataError('UNSUPPORTED', `cannot read DICOM ${file}: multi-frame image (${frames} frames); only one slice per file is read`, file);
  if (![8, 16, 32].includes(bitsAllocated)) throw new DataError('UNSUPPORTED', `cannot read DICOM ${file}: BitsAllocated ${bitsAllocated}`, file);
  const need = rows * cols * (bitsAllocated / 8);
  if (pixel.length < need || pixel.dataOffset + need > ds.byteArray.length) {
    throw new DataError('UNREADABLE', `cannot read DICOM ${file}: pixel data has ${pixel.length} bytes, ${rows}x${cols}x${bitsAllocated} bits need ${need}`, file);
  }
  const nums = (tag: string, n: number): number[] | null => {
    if ((ds.numStringValues(tag) ?? 0) < n) return null;
    const v = Array.from({ length: n }, (_, i) => ds.floatString(tag, i));
    return v.every((x) => x !== undefined && Number.isFinite(x)) ? (v as number[]) : null;
  };
  return {
    file,
    rows,
    cols,
    bitsAllocated,
    bitsStored: ds.uint16('x00280101') ?? bitsAllocated,
    signed: ds.uint16('x00280103') === 1,
    bigEndian: ts === '1.2.840.10008.1.2.2',
    pixels: ds.byteArray.slice(pixel.dataOffset, pixel.dataOffset + need), // a copy: aligned, and frees the file
    position: nums('x00200032', 3) as Vec3 | null,
    orientation: nums('x00200037', 6) as Slice['orientation'],
    pixelSpacing: nums('x00280030', 2) as [number, number] | null,
    thickness: ds.floatString('x00180050') ?? null,
    spacingBetween: ds.floatString('x00180088') ?? null,
    instance: ds.intString('x00200013') ?? 0,
    slope: ds.floatString('x00281053') ?? 1,
    intercept: ds.floatString('x00281052') ?? 0,
    seriesUid: (ds.string('x0020000e') ?? '').trim(),
    modality: (ds.string('x00080060') ?? '').trim(),
    transferSyntax: ts,
  };
}

async function listFiles(source: string | string[]): Promise<string[]> {
  if (Array.isArray(source)) return source;
  let st;
  try {
    st = await stat(source);
  } catch {
    throw new DataError('NOT_FOUND', `DICOM folder not found: ${source}`, source);
  }
  if (st.isFile()) return [source];
  const names = (await readdir(source, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name.toUpperCase() !== 'DICOMDIR' && !NOT_DICOM.test(e.name))
    .map((e) => join(source, e.name))
    .sort();
  if (names.length === 0) throw new DataError('EMPTY_FOLDER', `no DICOM files in ${source}`, source);
  return names;
}

const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface DicomVolume {
  /** float32 [D, H, W] after RescaleSlope/Intercept (e.g. Hounsfield units for CT). */
  data: Tensor;
  geometry: VolumeGeometry;
}

/**
 * Reads one series from a folder (non-recursive) or a list of files. Files without pixel data are skipped; a folder
 * holding several series needs `seriesUid`.
 */
export async function readDicomSeries(source: string | string[], opts: { seriesUid?: string } = {}): Promise<DicomVolume> {
  const where = Array.isArray(source) ? `${source.length} files` : source;
  const files = await listFiles(source);
  const all: Slice[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new DataError('UNREADABLE', `cannot read DICOM ${file}: ${reason(err)}`, file);
    }
    const s = readSlice(bytes, file);
    if (s) all.push(s);
  }
  if (all.length === 0) throw new DataError('EMPTY_FOLDER', `no DICOM images with pixel data in ${where}`, Array.isArray(source) ? undefined : source);
  const uids = [...new Set(all.map((s) => s.seriesUid))];
  let slices = all;
  if (opts.seriesUid !== undefined) {
    slices = all.filter((s) => s.seriesUid === opts.seriesUid);
    if (slices.length === 0) throw new DataError('INVALID', `series ${opts.seriesUid} not found in ${where}; series present: ${listFew(uids)}`);
  } else if (uids.length > 1) {
    throw new DataError('INVALID', `${where} holds ${uids.length} series (${listFew(uids)}); pass seriesUid to choose one`);
  }
  return assemble(slices, where);
}

function assemble(slices: Slice[], where: string): DicomVolume {
  const first = slices[0]!;
  for (const s of slices) {
    for (const key of ['rows', 'cols', 'bitsAllocated', 'bitsStored', 'signed'] as const) {
      if (s[key] !== first[key]) throw new DataError('SIZE_MISMATCH', `DICOM series ${where}: ${basename(s.file)} has ${key} ${s[key]} but ${basename(first.file)} has ${first[key]}`, s.file);
    }
  }
  const iop = first.orientation ?? [1, 0, 0, 0, 1, 0];
  const rowDir: Vec3 = [iop[0], iop[1], iop[2]], colDir: Vec3 = [iop[3], iop[4], iop[5]];
  const normal = cross(rowDir, colDir);
  const havePositions = slices.every((s) => s.position);
  const key = (s: Slice): number => (havePositions ? dot(s.position!, normal) : s.instance);
  slices = [...slices].sort((a, b) => key(a) - key(b));
  const keys = slices.map(key);
  const gaps = keys.slice(1).map((k, i) => k - keys[i]!);
  if (havePositions) {
    const dup = gaps.findIndex((g) => Math.abs(g) < 1e-4);
    if (dup >= 0) throw new DataError('INVALID', `DICOM series ${where}: ${basename(slices[dup]!.file)} and ${basename(slices[dup + 1]!.file)} are at the same slice position`);
  }
  const dz = havePositions && gaps.length ? median(gaps) : first.spacingBetween ?? first.thickness ?? 1;
  const irregular = havePositions && gaps.some((g) => Math.abs(g - dz) > 0.01 * Math.abs(dz));
  const [dy, dx] = first.pixelSpacing ?? [1, 1];
  const D = slices.length, H = first.rows, W = first.cols;

  const data = tidy(() => {
    const raw = Buffer.concat(slices.map((s) => s.pixels));
    if (first.bigEndian && first.bitsAllocated === 16) raw.swap16();
    if (first.bigEndian && first.bitsAllocated === 32) raw.swap32();
    const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const shape = [D, H, W];
    let t: Tensor;
    if (first.bitsAllocated === 8) t = tensor(first.signed ? new Int8Array(ab) : new Uint8Array(ab), shape).to('int32');
    else if (first.bitsAllocated === 16) t = tensor(new Int16Array(ab), shape).to('int32');
    else t = tensor(new Int32Array(ab), shape).to('int64');
    const stored = first.bitsStored, alloc = first.bitsAllocated;
    if (first.signed && stored < alloc) { // sign-extend from bit (stored-1)
      const shift = (alloc === 32 ? 64 : 32) - stored;
      t = callT('bitwise_right_shift.Tensor_Scalar', [callT('bitwise_left_shift.Tensor_Scalar', [t, shift]), shift]);
    } else if (!first.signed && (stored < alloc || alloc >= 16)) {
      t = callT('bitwise_and.Scalar', [t, stored < alloc ? 2 ** stored - 1 : 2 ** alloc - 1]); // unsigned view
    }
    const slopes = tensor(Float32Array.from(slices, (s) => s.slope), [D, 1, 1]);
    const intercepts = tensor(Float32Array.from(slices, (s) => s.intercept), [D, 1, 1]);
    return t.float().mul(slopes).add(intercepts);
  });

  const origin = (slices[0]!.position ?? [0, 0, 0]) as Vec3;
  const lps: Mat4 = [
    [rowDir[0] * dx, colDir[0] * dy, normal[0] * dz, origin[0]],
    [rowDir[1] * dx, colDir[1] * dy, normal[1] * dz, origin[1]],
    [rowDir[2] * dx, colDir[2] * dy, normal[2] * dz, origin[2]],
    [0, 0, 0, 1],
  ];
  const affine = lps.map((r, i) => (i < 2 ? r.map((v) => -v) : r)); // LPS → RAS
  const dicom: DicomSeriesInfo = {
    seriesInstanceUid: first.seriesUid,
    modality: first.modality,
    transferSyntax: first.transferSyntax,
    files: slices.map((s) => s.file),
    origin,
    rowDirection: rowDir,
    columnDirection: colDir,
    normal,
    irregularSpacing: irregular,
    rescale: slices.map((s) => ({ slope: s.slope, intercept: s.intercept })),
  };
  return {
    data,
    geometry: { kind: 'volume', shape: [D, H, W], spacing: [Math.abs(dz), dy, dx], affine, orientation: orientationCodes(affine), source: 'dicom', dicom },
  };
}
