// Voxel-to-world geometry shared by NIfTI and DICOM volumes.
//
// Axis convention (the one SimpleITK and nnU-Net use): a volume tensor is [D, H, W] = [k, j, i], where (i, j, k) are
// the NIfTI voxel indexes (i varies fastest on disk). The file's bytes are therefore read without any transpose.
// `spacing` is given in tensor axis order: [dk, dj, di] = [pixdim[3], pixdim[2], pixdim[1]] (mm). `affine` maps the
// column (i, j, k, 1) (note: NIfTI index order, not tensor order) to RAS+ world millimetres, as nibabel's
// img.affine does; `orientation` names the world direction of increasing i, j, k ('RAS', 'LPS', ...), as
// nibabel.aff2axcodes does.

export type Mat4 = number[][];

export interface NiftiHeaderInfo {
  version: 1 | 2;
  /** NIfTI datatype code and its name ('uint8', 'int16', 'float32', ...). */
  datatypeCode: number;
  datatype: string;
  bitpix: number;
  /** dim[0..7] and pixdim[0..7] exactly as stored (pixdim[0] is qfac). */
  dim: number[];
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: [number, number, number];
  qfac: 1 | -1;
  /** srow_x, srow_y, srow_z (3 rows of 4). */
  srow: number[][];
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  dimInfo: number;
  intentCode: number;
  intentName: string;
  intentP: [number, number, number];
  description: string;
  auxFile: string;
  calMin: number;
  calMax: number;
  sliceCode: number;
  sliceStart: number;
  sliceEnd: number;
  sliceDuration: number;
  toffset: number;
  littleEndian: boolean;
}

export interface DicomSeriesInfo {
  seriesInstanceUid: string;
  modality: string;
  transferSyntax: string;
  /** Files in slice order (along the slice normal). */
  files: string[];
  /** Position of the first slice (LPS, mm) and the direction cosines (row, column, normal). */
  origin: [number, number, number];
  rowDirection: [number, number, number];
  columnDirection: [number, number, number];
  normal: [number, number, number];
  /** True when the gaps between slice positions vary by more than 1% (spacing then is their median). */
  irregularSpacing: boolean;
  rescale: { slope: number; intercept: number }[];
}

export interface VolumeGeometry {
  kind: 'volume';
  /** Spatial tensor shape [D, H, W] = [nk, nj, ni]. */
  shape: [number, number, number];
  /** Voxel size in tensor axis order [dk, dj, di] (mm). */
  spacing: [number, number, number];
  /** 4x4 map from (i, j, k, 1) to RAS+ world mm (sform if sform_code > 0, else qform, else pixdim scaling). */
  affine: Mat4;
  /** World direction of increasing i, j, k, e.g. 'RAS' or 'LPS'. */
  orientation: string;
  source: 'nifti' | 'dicom';
  /** The source NIfTI header, so predictions can be written back with exactly its geometry fields. */
  nifti?: NiftiHeaderInfo;
  dicom?: DicomSeriesInfo;
}

export const identity4 = (): Mat4 => [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];

/** NIfTI quaternion parameters to a 4x4 affine (nifti1_io.c quatern_to_mat44). */
export function quaternToAffine(q: [number, number, number], offset: [number, number, number], d: [number, number, number], qfac: number): Mat4 {
  let [b, c, dd] = q;
  let a = 1 - (b * b + c * c + dd * dd);
  if (a < 1e-7) {
    const n = 1 / Math.sqrt(b * b + c * c + dd * dd);
    b *= n; c *= n; dd *= n; a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = d[0] > 0 ? d[0] : 1, yd = d[1] > 0 ? d[1] : 1;
  let zd = d[2] > 0 ? d[2] : 1;
  if (qfac < 0) zd = -zd;
  return [
    [(a * a + b * b - c * c - dd * dd) * xd, 2 * (b * c - a * dd) * yd, 2 * (b * dd + a * c) * zd, offset[0]],
    [2 * (b * c + a * dd) * xd, (a * a + c * c - b * b - dd * dd) * yd, 2 * (c * dd - a * b) * zd, offset[1]],
    [2 * (b * dd - a * c) * xd, 2 * (c * dd + a * b) * yd, (a * a + dd * dd - c * c - b * b) * zd, offset[2]],
    [0, 0, 0, 1],
  ];
}

const det3 = (m: number[][]): number =>
  m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
  m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
  m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);

function inverseTranspose3(m: number[][]): number[][] {
  const d = det3(m);
  const c = (r0: number, c0: number, r1: number, c1: number): number => m[r0]![c0]! * m[r1]![c1]! - m[r0]![c1]! * m[r1]![c0]!;
  // cofactor matrix / det = inverse transposed
  return [
    [c(1, 1, 2, 2) / d, -c(1, 0, 2, 2) / d, c(1, 0, 2, 1) / d],
    [-c(0, 1, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 2, 1) / d],
    [c(0, 1, 1, 2) / d, -c(0, 0, 1, 2) / d, c(0, 0, 1, 1) / d],
  ];
}

/** Voxel sizes (column norms of the 3x3 part) in NIfTI order [di, dj, dk]. */
export function affineZooms(affine: Mat4): [number, number, number] {
  const z = [0, 1, 2].map((j) => Math.hypot(affine[0]![j]!, affine[1]![j]!, affine[2]![j]!));
  return z as [number, number, number];
}

/** A 4x4 affine to NIfTI quaternion parameters (nifti1_io.c mat44_to_quatern, with its polar orthogonalisation). */
export function affineToQuatern(affine: Mat4): { quatern: [number, number, number]; offset: [number, number, number]; zooms: [number, number, number]; qfac: 1 | -1 } {
  const zooms = affineZooms(affine).map((z) => (z === 0 ? 1 : z)) as [number, number, number];
  let r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]! / zooms[j]!));
  for (let j = 0; j < 3; j++) if (affineZooms(affine)[j] === 0) for (let i = 0; i < 3; i++) r[i]![j] = i === j ? 1 : 0;
  for (let it = 0; it < 30; it++) { // polar decomposition: nearest orthogonal matrix
    const t = inverseTranspose3(r);
    const next = r.map((row, i) => row.map((v, j) => 0.5 * (v + t[i]![j]!)));
    const delta = Math.max(...next.flat().map((v, k) => Math.abs(v - r.flat()[k]!)));
    r = next;
    if (delta < 1e-12) break;
  }
  let qfac: 1 | -1 = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]] = r as [[number, number, number], [number, number, number], [number, number, number]];
  let a = r11 + r22 + r33 + 1, b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a; c = (0.25 * (r13 - r31)) / a; d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33), yd = 1 + r22 - (r11 + r33), zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd); c = (0.25 * (r12 + r21)) / b; d = (0.25 * (r13 + r31)) / b; a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd); b = (0.25 * (r12 + r21)) / c; d = (0.25 * (r23 + r32)) / c; a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd); b = (0.25 * (r13 + r31)) / d; c = (0.25 * (r23 + r32)) / d; a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) { b = -b; c = -c; d = -d; }
  }
  return { quatern: [b, c, d], offset: [affine[0]![3]!, affine[1]![3]!, affine[2]![3]!], zooms, qfac };
}

/** World direction letters of the voxel axes i, j, k (RAS+ affine), like nibabel.aff2axcodes. */
export function orientationCodes(affine: Mat4): string {
  const pos = ['R', 'A', 'S'], neg = ['L', 'P', 'I'];
  const used = new Set<number>();
  const codes: string[] = ['?', '?', '?'];
  // assign the most dominant (column, world axis) pairs first so oblique volumes still get distinct letters
  const pairs: { col: number; axis: number; w: number }[] = [];
  for (let col = 0; col < 3; col++) {
    const norm = Math.hypot(affine[0]![col]!, affine[1]![col]!, affine[2]![col]!) || 1;
    for (let axis = 0; axis < 3; axis++) pairs.push({ col, axis, w: Math.abs(affine[axis]![col]!) / norm });
  }
  pairs.sort((p, q) => q.w - p.w);
  for (const { col, axis, w } of pairs) {
    if (codes[col] !== '?' || used.has(axis) || w === 0) continue;
    codes[col] = affine[axis]![col]! >= 0 ? pos[axis]! : neg[axis]!;
    used.add(axis);
  }
  return codes.join('');
}

/** Largest absolute difference between two 4x4 matrices. */
export function affineDistance(a: Mat4, b: Mat4): number {
  let d = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) d = Math.max(d, Math.abs(a[i]![j]! - b[i]![j]!));
  return d;
}
