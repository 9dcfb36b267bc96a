// Test helpers for src/methods and the train / predict commands: tiny synthetic datasets in a temporary folder
// (2D PNG images+masks, 3D NIfTI imagesTr/labelsTr) with a bright object the U-Net can learn in a few steps,
// a quick config, and a runner for the CLI.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { setNumThreads, tensor } from '../../src/engine/index.ts';
import { type Mat4, makeGeometry, mulberry32, writeNifti } from '../../src/data/index.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Tests train tiny models: one thread is as fast and does not oversubscribe the cores when test files run in parallel. */
export function useOneThread(): void {
  setNumThreads(1);
}

export function tempDir(prefix = 'samtutor-methods-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An RGB image with a bright square on textured noise, and its 0/255 mask (width × height, square side `side`). */
function drawCase(width: number, height: number, rand: () => number): { image: Uint8Array; mask: Uint8Array } {
  const side = Math.round(Math.min(width, height) * (0.3 + 0.2 * rand()));
  const x0 = Math.floor(rand() * (width - side)), y0 = Math.floor(rand() * (height - side));
  const image = new Uint8Array(width * height * 3), mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
      mask[y * width + x] = inside ? 255 : 0;
      for (let c = 0; c < 3; c++) image[(y * width + x) * 3 + c] = Math.round((inside ? 170 : 40) + 60 * rand() + 10 * c);
    }
  }
  return { image, mask };
}

/** images/ + masks/ with `count` PNG pairs of width × height pixels. */
export async function makeDataset2d(dir: string, count: number, width = 40, height = 32, seed = 1): Promise<string[]> {
  const rand = mulberry32(seed);
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `case${String(i).padStart(2, '0')}`;
    const { image, mask } = drawCase(width, height, rand);
    await sharp(image, { raw: { width, height, channels: 3 } }).png().toFile(join(dir, 'images', `${id}.png`));
    await sharp(mask, { raw: { width, height, channels: 1 } }).png().toFile(join(dir, 'masks', `${id}.png`));
    ids.push(id);
  }
  return ids;
}

/** A non-trivial affine: spacing (dz, dy, dx) = (2, 1, 1.5) with an offset, so geometry errors show. */
export const AFFINE_3D: Mat4 = [[1.5, 0, 0, -20], [0, 1, 0, 12.5], [0, 0, 2, 7], [0, 0, 0, 1]];

/** nnU-Net layout imagesTr/ + labelsTr/ with `count` volumes [D, H, W] holding a bright box (label 1). */
export async function makeDataset3d(dir: string, count: number, shape: [number, number, number] = [12, 16, 14], seed = 2): Promise<string[]> {
  const rand = mulberry32(seed);
  const geometry = makeGeometry(shape, [2, 1, 1.5], AFFINE_3D);
  const [d, h, w] = shape;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `vol_${String(i).padStart(3, '0')}`;
    const img = new Float32Array(d * h * w), lab = new Uint8Array(d * h * w);
    const z0 = 2 + Math.floor(rand() * (d - 8)), y0 = 2 + Math.floor(rand() * (h - 9)), x0 = 2 + Math.floor(rand() * (w - 9));
    for (let z = 0; z < d; z++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const inside = z >= z0 && z < z0 + 5 && y >= y0 && y < y0 + 6 && x >= x0 && x < x0 + 6;
      const k = (z * h + y) * w + x;
      lab[k] = inside ? 1 : 0;
      img[k] = (inside ? 300 : 100) + 40 * rand();
    }
    await writeNifti(join(dir, 'imagesTr', `${id}_0000.nii.gz`), tensor(img, shape), geometry);
    await writeNifti(join(dir, 'labelsTr', `${id}.nii.gz`), tensor(lab, shape), geometry);
    ids.push(id);
  }
  return ids;
}

/** A config for seconds-long runs on the synthetic data (tiny U-Net, no validation HD95 unless asked). */
export function quickConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: { widths: [4, 8], norm: 'batch', groups: 8, dropout: 0, upsample: 'transpose', convsPerLevel: 1 },
    size: 32, batch: 2, epochs: 2, lr: 0.01, valFraction: 0.25, testFraction: 0, valHd95: false, augment: 'weak', ...overrides,
  };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/samtutor.js ...args` from the repository root, with one intra-op thread: the test models are tiny,
 * and OpenMP threads spinning against other test processes on a small machine cost far more than they give.
 */
export function samtutor(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'samtutor.js'), ...args], {
    cwd: o.cwd ?? REPO, encoding: 'utf8', env: { ...process.env, SAMTUTOR_THREADS: '1', ...o.env }, maxBuffer: 16 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
