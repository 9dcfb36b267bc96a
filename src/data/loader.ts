// SampleRecord → tensors. 2D: image float32 [C, H, W], mask [H, W]; 3D: image float32 [C, D, H, W], mask [D, H, W].
// Masks are label maps (uint8, or int64 when labels exceed 255) decoded per the dataset's encoding (encoding.ts).
// The caller owns the returned tensors (disposeSample frees them).
import { stat } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import { tidy, dispose, callT, tensor, type Tensor } from '../engine/index.ts';
import { DataError } from './errors.ts';
import { readImage, rawToTensor, LUMA } from './image.ts';
import { readNifti } from './nifti.ts';
import { readDicomSeries } from './dicom.ts';
import { type EncodingSpec, type MaskEncoding, decodeMask, toSpec } from './encoding.ts';
import { type VolumeGeometry, affineDistance } from './geometry.ts';
import type { DatasetIndex, SampleMeta, SampleRecord } from './dataset.ts';

export interface ImageGeometry {
  kind: 'image';
  /** The file's own size and layout, to write predictions back at original resolution. */
  width: number;
  height: number;
  channels: number;
  bitDepth: 8 | 16;
}

export interface LoadOptions {
  /** 2D image channels: 'auto' keeps grey as 1 and colour as 3 (alpha dropped); 1 (ITU-R 601 luma) or 3 convert. Default 'auto'. */
  channels?: 'auto' | 1 | 3;
  /** Mask encoding; default: the index's (when given) or 'auto' for 2D / 'labels' for 3D. */
  encoding?: MaskEncoding | EncodingSpec;
  /** Load the extra maps (fov, instances, ...). Default true. */
  extras?: boolean;
  /** Volumes: error when image and label affines differ (default true). */
  checkGeometry?: boolean;
}

export interface LoadedSample {
  id: string;
  /** float32 [C, H, W] (2D, raw sample values 0..255 or 0..65535) or [C, D, H, W] (3D, scl_slope applied). */
  image: Tensor;
  /** Label map [H, W] or [D, H, W]: uint8 (int64 when labels exceed 255). Absent for unlabeled records. */
  mask?: Tensor;
  /** Extra maps by folder name: 'instances' keeps its label values (int64), others decode as binary uint8. */
  extras: Record<string, Tensor>;
  /** Pixel/voxel size in tensor axis order: [1, 1] for 2D images (no physical size), [dz, dy, dx] mm for volumes. */
  spacing: number[];
  geometry: ImageGeometry | VolumeGeometry;
  sourcePath: string;
  maskPath?: string;
  meta: SampleMeta;
}

export function disposeSample(s: LoadedSample): void {
  dispose([s.image, s.mask, s.extras]);
}

const shortName = (p: string): string => `${basename(dirname(p))}/${basename(p)}`;
const isLossy = (p: string): boolean => ['.jpg', '.jpeg', '.webp'].includes(extname(p).toLowerCase());

/** Loads one record. Pass the index to use its encoding default. */
export async function loadSample(rec: SampleRecord, opts: LoadOptions = {}, index?: DatasetIndex): Promise<LoadedSample> {
  const encoding = toSpec(opts.encoding ?? index?.encoding ?? (rec.dims === 3 ? 'labels' : 'auto'));
  return rec.dims === 2 ? load2d(rec, opts, encoding) : load3d(rec, opts, encoding);
}

/** Reads a 2D mask file to raw integer values [H, W]: the grey channel, or the maximum over RGB for colour files. */
async function rawMask2d(path: string): Promise<{ raw: Tensor; width: number; height: number }> {
  const img = await readImage(path, { channels: 'keep' });
  const raw = tidy(() => {
    const t = rawToTensor(img);
    if (img.channels <= 2) return t.select(2, 0);
    return t.narrow(2, 0, 3).amax(2);
  });
  return { raw, width: img.width, height: img.height };
}

async function load2d(rec: SampleRecord, opts: LoadOptions, encoding: EncodingSpec): Promise<LoadedSample> {
  const mode = opts.channels ?? 'auto';
  if (mode !== 'auto' && mode !== 1 && mode !== 3) {
    throw new DataError('INVALID', `Expected 'auto', 1 or 3 for channels but received ${String(mode)} of type ${typeof mode}`);
  }
  const img = await readImage(rec.imagePath, { channels: 'keep' });
  const owned: Tensor[] = [];
  try {
    const image = tidy(() => {
      let t = rawToTensor(img).float();
      if (img.channels === 2 || img.channels === 4) t = t.narrow(2, 0, img.channels - 1); // drop alpha
      const c = t.size(2);
      if (mode === 1 && c === 3) t = t.matmul(tensor(new Float32Array(LUMA), [3, 1])).round();
      else if (mode === 3 && c === 1) t = t.expand(img.height, img.width, 3);
      return t.permute(2, 0, 1).contiguous();
    });
    owned.push(image);
    const sizeCheck = (path: string, w: number, h: number): void => {
      if (w !== img.width || h !== img.height) {
        throw new DataError('SIZE_MISMATCH', `size mismatch for ${rec.id}: ${shortName(path)} is ${w}x${h} but image ${shortName(rec.imagePath)} is ${img.width}x${img.height}`, path);
      }
    };
    let mask: Tensor | undefined;
    for (const path of [rec.maskPath, ...(rec.extraMaskPaths ?? [])]) {
      if (!path) continue;
      const m = await rawMask2d(path);
      owned.push(m.raw);
      sizeCheck(path, m.width, m.height);
      const decoded = decodeMask(m.raw, encoding, { path, lossy: isLossy(path) });
      owned.push(decoded);
      mask = mask ? tidy(() => callT('maximum', [mask!.to(decoded.dtype === 'int64' ? 'int64' : mask!.dtype), decoded])) : decoded;
      if (mask !== decoded) owned.push(mask);
    }
    const extras: Record<string, Tensor> = {};
    if (opts.extras ?? true) {
      for (const [name, path] of Object.entries(rec.extra)) {
        const m = await rawMask2d(path);
        owned.push(m.raw);
        sizeCheck(path, m.width, m.height);
        const spec: EncodingSpec = name === 'instances' ? { kind: 'labels' } : { kind: isLossy(path) ? 'threshold' : 'nonzero' };
        extras[name] = tidy(() => {
          const d = decodeMask(m.raw, spec, { path });
          return name === 'instances' ? d.to('int64') : d;
        });
        owned.push(extras[name]!);
      }
    }
    const keep = new Set<Tensor>([image, ...(mask ? [mask] : []), ...Object.values(extras)]);
    for (const t of owned) if (!keep.has(t)) t.dispose();
    return {
      id: rec.id,
      image,
      ...(mask ? { mask } : {}),
      extras,
      spacing: [1, 1],
      geometry: { kind: 'image', width: img.width, height: img.height, channels: img.channels, bitDepth: img.bitDepth },
      sourcePath: rec.imagePath,
      ...(rec.maskPath ? { maskPath: rec.maskPath } : {}),
      meta: { ...rec.meta },
    };
  } catch (err) {
    for (const t of owned) t.dispose();
    throw err;
  }
}

/** A NIfTI file or a DICOM series folder. */
export async function readVolume(path: string): Promise<{ data: Tensor; geometry: VolumeGeometry }> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new DataError('NOT_FOUND', `volume not found: ${path}`, path);
  }
  return isDir ? readDicomSeries(path) : readNifti(path);
}

async function load3d(rec: SampleRecord, opts: LoadOptions, encoding: EncodingSpec): Promise<LoadedSample> {
  const paths = rec.channelPaths ?? [rec.imagePath];
  const owned: Tensor[] = [];
  try {
    const vols: { data: Tensor; geometry: VolumeGeometry; path: string }[] = [];
    for (const p of paths) {
      const v = await readVolume(p);
      owned.push(v.data);
      vols.push({ ...v, path: p });
    }
    const ref = vols[0]!;
    for (const v of vols.slice(1)) {
      if (v.geometry.shape.some((d, i) => d !== ref.geometry.shape[i])) {
        throw new DataError('SIZE_MISMATCH', `size mismatch for ${rec.id}: channel ${shortName(v.path)} is ${v.geometry.shape.join('x')} but ${shortName(ref.path)} is ${ref.geometry.shape.join('x')}`, v.path);
      }
    }
    const image = tidy(() => {
      const parts = vols.map((v) => (v.data.ndim === 3 ? v.data.unsqueeze(0) : v.data).float());
      return (parts.length === 1 ? parts[0]! : callT('cat', [parts, 0])).contiguous();
    });
    owned.push(image);
    let mask: Tensor | undefined;
    for (const path of [rec.maskPath, ...(rec.extraMaskPaths ?? [])]) {
      if (!path) continue;
      const lab = await readNifti(path);
      owned.push(lab.data);
      const shape = lab.data.shape;
      if (shape.length !== 3 || shape.some((d, i) => d !== ref.geometry.shape[i])) {
        throw new DataError('SIZE_MISMATCH', `size mismatch for ${rec.id}: label ${shortName(path)} is ${shape.join('x')} but image ${shortName(ref.path)} is ${ref.geometry.shape.join('x')} (D x H x W)`, path);
      }
      if ((opts.checkGeometry ?? true) && affineDistance(lab.geometry.affine, ref.geometry.affine) > 1e-3) {
        throw new DataError('GEOMETRY_MISMATCH', `geometry mismatch for ${rec.id}: label ${shortName(path)} and image ${shortName(ref.path)} have different affines (pass checkGeometry: false to ignore)`, path);
      }
      const decoded = decodeMask(lab.data, encoding, { path });
      owned.push(decoded);
      mask = mask ? tidy(() => callT('maximum', [mask!.to(decoded.dtype === 'int64' ? 'int64' : mask!.dtype), decoded])) : decoded;
      if (mask !== decoded) owned.push(mask);
    }
    const keep = new Set<Tensor>([image, ...(mask ? [mask] : [])]);
    for (const t of owned) if (!keep.has(t)) t.dispose();
    return {
      id: rec.id,
      image,
      ...(mask ? { mask } : {}),
      extras: {},
      spacing: [...ref.geometry.spacing],
      geometry: ref.geometry,
      sourcePath: rec.imagePath,
      ...(rec.maskPath ? { maskPath: rec.maskPath } : {}),
      meta: { ...rec.meta },
    };
  } catch (err) {
    for (const t of owned) t.dispose();
    throw err;
  }
}
