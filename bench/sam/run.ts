// bench/sam: SAM's image embedding (1x3x1024x1024) and per-prompt decode (one box, single mask) in samtutor and in
// PyTorch (bench/sam/reference.py: the official forward re-stated functionally in sam_functional.py, same weights
// and input), fp32 and bf16 autocast, same threads; rounds alternate which side goes first. Two architectures: a
// vit_b-sized ViT SAM and MobileSAM (TinyViT-5M encoder), each with seeded random weights (no official weights
// offline: the timing does not depend on the values), saved once for both sides. Prints medians, ratios and the
// max |difference| of the embeddings as a check that both sides compute the same thing.
//
// BLAS: samtutor's addon links OpenBLAS's OpenMP build (native/binding.gyp). PyTorch runs on the system's
// libblas.so.3 by default (Debian's alternatives pick OpenBLAS's pthread build when both are installed);
// --pytorch-blas openmp puts it on the OpenMP build too. Both sides' BLAS files are printed and recorded.
//
//   node --import tsx bench/sam/run.ts [--models vit_b,mobile_sam] [--precisions fp32,bf16] [--rounds 2]
//       [--embed-iters 3] [--decode-iters 20] [--threads N] [--pytorch-blas system|openmp] [--out bench/results/sam.json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Tensor, autocast, blasLibrary, defaultThreads, getNumThreads, inferenceMode, manualSeed, openmpBlasDir, randn, setNumThreads, tensor, tidy,
} from '../../src/engine/index.ts';
import { saveCheckpoint } from '../../src/engine/serialization/index.ts';
import { readNpy } from '../../src/data/npy.ts';
import { type Sam, type SamConfig, buildSam, getSamConfig } from '../../src/models/sam/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'vit_b,mobile_sam' }, precisions: { type: 'string', default: 'fp32,bf16' },
    rounds: { type: 'string', default: '2' }, 'embed-iters': { type: 'string', default: '3' }, 'decode-iters': { type: 'string', default: '20' },
    threads: { type: 'string', default: String(defaultThreads()) }, out: { type: 'string', default: join(here, '..', 'results', 'sam.json') },
    python: { type: 'string', default: '/usr/bin/python3' }, 'pytorch-blas': { type: 'string', default: 'system' },
  },
});
type Prec = 'fp32' | 'bf16';
const models = args.models!.split(',');
const precs = args.precisions!.split(',') as Prec[];
const rounds = Number(args.rounds), embedIters = Number(args['embed-iters']), decodeIters = Number(args['decode-iters']), threads = Number(args.threads);
if (!models.every((m) => m === 'vit_b' || m === 'mobile_sam') || !precs.every((p) => p === 'fp32' || p === 'bf16') || !(rounds >= 1)) {
  throw new Error('usage: --models vit_b,mobile_sam --precisions fp32,bf16 --rounds >=1 (see the header of bench/sam/run.ts)');
}
setNumThreads(threads);
const pytorchEnv = { ...process.env };
if (args['pytorch-blas'] === 'openmp') {
  const dir = openmpBlasDir();
  if (!dir) throw new Error('--pytorch-blas openmp: OpenBLAS\'s OpenMP build is not installed (apt-get install libopenblas0-openmp)');
  pytorchEnv.LD_LIBRARY_PATH = [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
} else if (args['pytorch-blas'] !== 'system') {
  throw new Error(`--pytorch-blas must be system or openmp, got ${JSON.stringify(args['pytorch-blas'])}`);
}
const blas: { samtutor: string | null; pytorch: string | null } = { samtutor: blasLibrary(), pytorch: null };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
function times(fn: () => void, warmup: number, iters: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  return Array.from({ length: iters }, () => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  });
}

/** samtutor's timings per part (embed_<prec>, decode_<prec>) and the embedding of each precision (as float32). */
function samtutorSide(model: Sam, x: Tensor): { parts: Record<string, number[]>; embeddings: Record<string, Tensor> } {
  const box = tensor([200, 300, 700, 800], [1, 4]);
  const parts: Record<string, number[]> = {};
  const embeddings: Record<string, Tensor> = {};
  inferenceMode(() => {
    for (const prec of precs) {
      const run = <T>(fn: () => T): T => (prec === 'bf16' ? autocast(fn) : fn());
      parts[`embed_${prec}`] = times(() => tidy(() => run(() => model.encodeImage(x))).dispose(), 1, embedIters);
      const embedding = run(() => model.encodeImage(x));
      parts[`decode_${prec}`] = times(() => tidy(() => { run(() => model.decode(embedding, { boxes: box }, false)); }), 2, decodeIters);
      embeddings[prec] = embedding.float();
      if (embeddings[prec] !== embedding) embedding.dispose();
    }
  });
  box.dispose();
  return { parts, embeddings };
}

/** The reference script's description of an architecture (sam_functional.py cfg). */
function referenceConfig(config: SamConfig): string {
  const e = config.imageEncoder, md = config.maskDecoder;
  const dec = { dec_heads: md.transformerNumHeads, dec_depth: md.transformerDepth };
  if (e.type === 'vit') return JSON.stringify({ encoder: { depth: e.depth, heads: e.numHeads, window: e.windowSize, global: e.globalAttnIndexes }, ...dec });
  const t = e.tinyVit;
  if (t.stemKernel !== 3) throw new Error('the reference TinyViT has MobileSAM\'s 3x3 stem');
  return JSON.stringify({ tinyvit: { heads: t.numHeads, windows: t.windowSizes, strides: t.mergeStrides }, ...dec });
}

console.log(`bench/sam: ${models.join(', ')} (seeded random weights), 1x3x1024x1024, ${precs.join(' and ')}, ${threads} threads, ${rounds} rounds`);
const dir = mkdtempSync(join(tmpdir(), 'bench-sam-'));
const rows: Record<string, unknown>[] = [];
const diffs: Record<string, number> = {};
try {
  for (const name of models) {
    manualSeed(0);
    const config = getSamConfig(name);
    const model = buildSam(config);
    model.eval();
    const ckpt = join(dir, `${name}.pth`);
    saveCheckpoint(ckpt, model.stateDict());
    const x = randn([1, 3, 1024, 1024]);
    writeFileSync(join(dir, 'input.f32'), Buffer.from((x.data() as Float32Array).buffer));
    const st: Record<string, number[]> = {}, pt: Record<string, number[]> = {};
    const push = (to: Record<string, number[]>, from: Record<string, number[]>) => { for (const [k, v] of Object.entries(from)) (to[k] ??= []).push(...v); };
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? ['pytorch', 'samtutor'] : ['samtutor', 'pytorch']) {
        if (side === 'samtutor') {
          const res = samtutorSide(model, x);
          push(st, res.parts);
          for (const [prec, emb] of Object.entries(res.embeddings)) {
            if (r === 0) {
              const ref = readNpy(join(dir, `embedding_${prec}.npy`));
              diffs[`${name}_${prec}`] = tidy(() => emb.sub(ref).abs().max().item());
              ref.dispose();
            }
            emb.dispose();
          }
        } else {
          const res = spawnSync(args.python!, [join(here, 'reference.py'), '--checkpoint', ckpt, '--config', referenceConfig(config), '--input', join(dir, 'input.f32'),
            '--threads', String(threads), '--precisions', precs.join(','), '--embed-iters', String(embedIters), '--decode-iters', String(decodeIters),
            '--save-embedding', join(dir, 'embedding_{prec}.npy')], { encoding: 'utf8', maxBuffer: 16 << 20, env: pytorchEnv });
          if (res.status !== 0) throw new Error(`PyTorch reference failed: ${(res.stderr || '').trim().split('\n').pop()}`);
          const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { times: Record<string, number[]>; blas: string | null };
          push(pt, out.times);
          blas.pytorch = out.blas;
        }
        process.stderr.write('.');
      }
    }
    x.dispose();
    model.dispose();
    for (const part of precs.flatMap((p) => [`embed_${p}`, `decode_${p}`])) {
      const s = median(st[part]!), p = median(pt[part]!);
      rows.push({ model: name, part, samtutor_ms: +s.toFixed(2), pytorch_ms: +p.toFixed(2), ratio: +(s / p).toFixed(3), samples: st[part]!.length });
    }
  }
  process.stderr.write('\n');
  console.log('\n| model | part | samtutor median (ms) | PyTorch median (ms) | samtutor / PyTorch |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.model} | ${r.part} | ${r.samtutor_ms} | ${r.pytorch_ms} | ${r.ratio} |`);
  console.log(`\nBLAS: samtutor ${blas.samtutor}, PyTorch ${blas.pytorch}`);
  console.log(`embeddings, max |samtutor − PyTorch|: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
  const fp32 = rows.filter((r) => String(r.part).endsWith('fp32'));
  console.log(`acceptance (every fp32 ratio <= 1.05): ${fp32.length && fp32.every((r) => (r.ratio as number) <= 1.05) ? 'yes' : 'NO'}`);
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, `${JSON.stringify({ bench: 'sam', models: 'seeded random weights', date: new Date().toISOString(), threads: getNumThreads(), rounds, blas, rows, embedding_max_abs_diff: diffs }, null, 1)}\n`);
  console.log(`wrote ${args.out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
