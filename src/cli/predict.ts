// `samtutor predict`: segments an image / volume or a folder of them with a trained run (its best.pth, else
// last.pth) or a checkpoint file. 2D: <stem>.png (0/255, or label indices for multi-class) at the original size and
// <stem>_overlay.png; 3D: <stem>.nii.gz on the source volume's grid and geometry. --probabilities adds
// <stem>_prob.png (8-bit foreground probability) or <stem>_prob.nii.gz (float32; [C, D, H, W] for multi-class).
// A folder may also be a dataset root: its images/, imagesTr/ or imagesTs/ folder is used. nnU-Net channel files
// (case_0000.nii.gz, case_0001.nii.gz) form one case named "case".
import { readdirSync, statSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  DataError, IMAGE_EXTENSIONS, disposeSample, loadSample, splitName, tensorToImage, writeImage, writeMask, writeNifti,
  type ImageGeometry, type SampleRecord, type VolumeGeometry,
} from '../data/index.ts';
import { dispose, tidy } from '../engine/index.ts';
import { ConfigError, NotACheckpointError, RunDirError } from '../methods/index.ts';
import { overlayLabels } from '../methods/overlay.ts';
import { Predictor } from '../methods/predictor.ts';
import { UsageError } from './usage.ts';

export interface PredictOptions {
  model: string;
  input: string;
  out: string;
  probabilities?: boolean;
  bf16?: boolean;
}

const VOLUME_EXTENSIONS = ['.nii.gz', '.nii'];
const USER_ERRORS = [ConfigError, DataError, RunDirError, NotACheckpointError];

interface InputCase {
  stem: string;
  paths: string[];
}

const kindOf = (dims: 2 | 3): string => (dims === 2 ? `image (${IMAGE_EXTENSIONS.join(', ')})` : 'NIfTI volume (.nii, .nii.gz)');

/** Cases from a list of file names in `dir`: 2D one per image, 3D grouped by nnU-Net channel suffix. */
function casesIn(dir: string, names: string[], dims: 2 | 3): InputCase[] {
  const exts = dims === 2 ? IMAGE_EXTENSIONS : VOLUME_EXTENSIONS;
  const files = names.map((n) => ({ n, s: splitName(n, exts) })).filter((f) => f.s !== null).sort((a, b) => a.n.localeCompare(b.n));
  if (dims === 2) return files.map((f) => ({ stem: f.s!.stem, paths: [join(dir, f.n)] }));
  const groups = new Map<string, string[]>();
  for (const f of files) {
    const stem = f.s!.stem.replace(/_\d{4}$/, '');
    groups.set(stem, [...(groups.get(stem) ?? []), join(dir, f.n)]);
  }
  return [...groups].map(([stem, paths]) => ({ stem, paths }));
}

/** The cases an --input names (a file, a folder of files, or a dataset root). */
function listInputs(input: string, dims: 2 | 3): InputCase[] {
  let isDir: boolean;
  try {
    isDir = statSync(input).isDirectory();
  } catch {
    throw new UsageError(`input not found: ${input}`);
  }
  if (!isDir) {
    const found = casesIn(dirname(input), [basename(input)], dims);
    if (found.length === 0) throw new UsageError(`${input} is not ${dims === 2 ? "an" : "a"} ${kindOf(dims)}, which this ${dims}D model needs`);
    return found;
  }
  for (const sub of ['', 'images', 'imagesTr', 'imagesTs']) {
    const dir = join(input, sub);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const found = casesIn(dir, names, dims);
    if (found.length) return found;
  }
  throw new UsageError(`no input files in ${input}: expected ${kindOf(dims)} files for this ${dims}D model`);
}

const record = (c: InputCase, dims: 2 | 3): SampleRecord => ({
  id: c.stem, imagePath: c.paths[0]!, ...(c.paths.length > 1 ? { channelPaths: c.paths } : {}), extra: {}, dims, meta: {},
});

async function predictImage(p: Predictor, c: InputCase, out: string, o: PredictOptions): Promise<void> {
  const s = await loadSample(record(c, 2), { channels: p.prep.channels as 1 | 3, extras: false });
  try {
    const bitDepth = (s.geometry as ImageGeometry).bitDepth;
    const pred = p.predict2d(s.image, bitDepth, { bf16: o.bf16 });
    const views = tidy(() => ({
      overlay: tensorToImage(overlayLabels(s.image, pred.labels, { bitDepth })),
      prob: o.probabilities ? tensorToImage((p.prep.outChannels === 1 ? pred.probabilities.select(0, 0) : pred.probabilities.select(0, 0).neg().add(1)).mul(255)) : null,
    }));
    await writeMask(join(out, `${c.stem}.png`), pred.labels, { mode: p.prep.numClasses === 2 ? 'binary' : 'labels' });
    await writeImage(join(out, `${c.stem}_overlay.png`), views.overlay);
    if (views.prob) await writeImage(join(out, `${c.stem}_prob.png`), views.prob);
    dispose(pred);
  } finally {
    disposeSample(s);
  }
}

async function predictVolume(p: Predictor, c: InputCase, out: string, o: PredictOptions): Promise<void> {
  const s = await loadSample(record(c, 3), { extras: false });
  try {
    if (s.image.shape[0] !== p.prep.channels) throw new UsageError(`${c.stem} has ${s.image.shape[0]} channel(s) but the model takes ${p.prep.channels}`);
    const geometry = s.geometry as VolumeGeometry;
    const pred = p.predict3d(s.image, { bf16: o.bf16 });
    try {
      await writeNifti(join(out, `${c.stem}.nii.gz`), pred.labels, geometry);
      if (o.probabilities) {
        const prob = p.prep.outChannels === 1 ? pred.probabilities.select(0, 0) : pred.probabilities;
        await writeNifti(join(out, `${c.stem}_prob.nii.gz`), prob, geometry, { dtype: 'float32' });
        if (prob !== pred.probabilities) prob.dispose();
      }
    } finally {
      dispose(pred);
    }
  } finally {
    disposeSample(s);
  }
}

export async function runPredict(opts: PredictOptions): Promise<void> {
  let predictor: Predictor | null = null;
  try {
    predictor = Predictor.load(opts.model);
    const dims = predictor.prep.dims;
    const cases = listInputs(opts.input, dims);
    mkdirSync(opts.out, { recursive: true });
    const t0 = performance.now();
    for (const c of cases) await (dims === 2 ? predictImage : predictVolume)(predictor, c, opts.out, opts);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`predict: ${cases.length} ${dims === 2 ? 'image' : 'volume'}(s) with ${predictor.method} (epoch ${predictor.epoch}) → ${opts.out} in ${seconds.toFixed(1)}s`);
  } catch (err) {
    if (USER_ERRORS.some((E) => err instanceof E)) throw new UsageError((err as Error).message);
    throw err;
  } finally {
    predictor?.dispose();
  }
}
