// bench/sam: SAM's image embedding (1x3x1024x1024) and per-prompt decode (one box, single mask) in samtutor and in
// PyTorch (bench/sam/reference.py: the official forward re-stated functionally, same weights and input), fp32 (bf16
// to come), same threads; rounds alternate sides. The model is a vit_b-sized ViT SAM with seeded random
// weights (no official weights offline: the timing does not depend on the values), saved once for both sides.
// Prints medians, ratios and the max |difference| of the fp32 embeddings as a check that both compute the same.
//
//   node --import tsx bench/sam/run.ts [--rounds 2] [--embed-iters 3] [--decode-iters 20] [--threads N]
//                                      [--out bench/results/sam.json]
//
// MobileSAM (TinyViT) is timed on the samtutor side only for now: the PyTorch reference has no TinyViT yet.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Tensor, defaultThreads, getNumThreads, inferenceMode, manualSeed, randn, setNumThreads, tensor, tidy,
} from '../../src/engine/index.ts';
import { saveCheckpoint } from '../../src/engine/serialization/index.ts';
import { readNpy } from '../../src/data/npy.ts';
import { type Sam, buildSam, getSamConfig } from '../../src/models/sam/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'embed-iters': { type: 'string', default: '3' },
    'decode-iters': { type: 'string', default: '20' },
    threads: { type: 'string', default: String(defaultThreads()) },
    out: { type: 'string', default: join(here, '..', 'results', 'sam.json') },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const rounds = Number(args.rounds), embedIters = Number(args['embed-iters']), decodeIters = Number(args['decode-iters']), threads = Number(args.threads);
setNumThreads(threads);

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

type Part = 'embed_fp32' | 'decode_fp32';
// fp32 only for now: the PyTorch re-statement (sam_functional.py) mixes dtypes under bf16 autocast.
const PARTS: Part[] = ['embed_fp32', 'decode_fp32'];

function samtutorSide(model: Sam, x: Tensor): Record<Part, number[]> & { embedding: Tensor } {
  const box = tensor([200, 300, 700, 800], [1, 4]);
  const out = {} as Record<Part, number[]>;
  let embedding!: Tensor;
  inferenceMode(() => {
    out.embed_fp32 = times(() => tidy(() => model.encodeImage(x)).dispose(), 1, embedIters);
    embedding = model.encodeImage(x);
    out.decode_fp32 = times(() => tidy(() => { model.decode(embedding, { boxes: box }, false); }), 2, decodeIters);
  });
  box.dispose();
  return { ...out, embedding };
}

console.log(`bench/sam: vit_b-sized SAM (seeded random weights), 1x3x1024x1024, ${getNumThreads()} threads, ${rounds} rounds`);
const dir = mkdtempSync(join(tmpdir(), 'bench-sam-'));
try {
  manualSeed(0);
  const config = getSamConfig('vit_b');
  const model = buildSam(config);
  const ckpt = join(dir, 'vit_b.pth');
  saveCheckpoint(ckpt, model.stateDict());
  const x = randn([1, 3, 1024, 1024]);
  writeFileSync(join(dir, 'input.f32'), Buffer.from((x.data() as Float32Array).buffer));
  const e = config.imageEncoder;
  if (e.type !== 'vit') throw new Error('expected a ViT config');
  const refConfig = JSON.stringify({
    encoder: { depth: e.depth, heads: e.numHeads, window: e.windowSize, global: e.globalAttnIndexes },
    dec_heads: config.maskDecoder.transformerNumHeads, dec_depth: config.maskDecoder.transformerDepth,
  });
  const st: Record<Part, number[]> = { embed_fp32: [], decode_fp32: [] };
  const pt: Record<Part, number[]> = { embed_fp32: [], decode_fp32: [] };
  let maxDiff = NaN;
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? ['pytorch', 'samtutor'] : ['samtutor', 'pytorch']) {
      if (side === 'samtutor') {
        const res = samtutorSide(model, x);
        for (const p of PARTS) st[p].push(...res[p]);
        if (r === 0) {
          const ref = readNpy(join(dir, 'embedding.npy'));
          maxDiff = tidy(() => res.embedding.sub(ref).abs().max().item());
          ref.dispose();
        }
        res.embedding.dispose();
      } else {
        const res = spawnSync(args.python!, [join(here, 'reference.py'), '--checkpoint', ckpt, '--config', refConfig, '--input', join(dir, 'input.f32'),
          '--threads', String(threads), '--embed-iters', String(embedIters), '--decode-iters', String(decodeIters), '--save-embedding', join(dir, 'embedding.npy')],
        { encoding: 'utf8', maxBuffer: 16 << 20 });
        if (res.status !== 0) throw new Error(`PyTorch reference failed: ${(res.stderr || '').trim().split('\n').pop()}`);
        const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<Part, number[]>;
        for (const p of PARTS) pt[p].push(...out[p]);
      }
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  x.dispose();
  model.dispose();
  const rows = PARTS.map((part) => {
    const s = median(st[part]), p = median(pt[part]);
    return { part, samtutor_ms: +s.toFixed(2), pytorch_ms: +p.toFixed(2), ratio: +(s / p).toFixed(3), samples: st[part].length };
  });
  console.log('\n| part | samtutor median (ms) | PyTorch median (ms) | samtutor / PyTorch |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.part} | ${r.samtutor_ms} | ${r.pytorch_ms} | ${r.ratio} |`);
  console.log(`\nfp32 embeddings: max |samtutor − PyTorch| = ${maxDiff.toExponential(2)}`);
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, `${JSON.stringify({ bench: 'sam', model: 'vit_b (random weights)', date: new Date().toISOString(), threads: getNumThreads(), rounds, rows, embedding_max_abs_diff: maxDiff }, null, 1)}\n`);
  console.log(`wrote ${args.out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
