// bench/engine: the small U-Net (SMALL_UNET_2D: widths 16-32-64-128, batch norm, transposed-conv up-sampling,
// 482,737 parameters) at batch 4 × 3×256×256 — train step (BCE-with-logits, Adam) and inference — in samtutor and
// in PyTorch (bench/engine/reference.py, the same network and seed, so weights and inputs are bit-identical) with
// the same thread count, fp32 and bf16 autocast; plus achieved GFLOP/s of a large conv and matmul against this
// CPU's fp32 peak. Rounds alternate between the two sides, so drift in machine load hits both alike.
//
//   node --import tsx bench/engine/run.ts [--rounds 2] [--iters 10] [--warmup 3] [--threads N] [--out file.json]
//                                         [--pytorch-heap shipped|samtutor]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_HEAP_POLICY, F, autocast, getNumThreads, inferenceMode, manualSeed, rand, randn, setNumThreads, tidy, type Tensor, defaultThreads,
} from '../../src/engine/index.ts';
import { Adam } from '../../src/engine/optim/index.ts';
import { buildUNet, SMALL_UNET_2D } from '../../src/models/unet/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    iters: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(defaultThreads()) },
    out: { type: 'string', default: join(here, '..', 'results', 'engine.json') },
    python: { type: 'string', default: '/usr/bin/python3' },
    // 'shipped': PyTorch as a user runs it. 'samtutor': PyTorch under glibc tunables equal to samtutor's heap policy
    // (setHeapPolicy), to show how much of the difference is that policy rather than the engine.
    'pytorch-heap': { type: 'string', default: 'shipped' },
  },
});
if (!['shipped', 'samtutor'].includes(args['pytorch-heap']!)) throw new Error(`--pytorch-heap must be shipped or samtutor, got ${args['pytorch-heap']}`);
const PYTORCH_ENV = args['pytorch-heap'] === 'samtutor'
  ? { ...process.env, GLIBC_TUNABLES: `glibc.malloc.trim_threshold=${DEFAULT_HEAP_POLICY.keepBytes}:glibc.malloc.mmap_threshold=${DEFAULT_HEAP_POLICY.mmapThresholdBytes}` }
  : process.env;
const rounds = Number(args.rounds), iters = Number(args.iters), warmup = Number(args.warmup), threads = Number(args.threads);
setNumThreads(threads);

const PARTS = ['train', 'train_bf16', 'infer', 'infer_bf16'] as const;
type Part = (typeof PARTS)[number];
const BATCH = 4, SIZE = 256;
// fp32 peak at the clock the VM reports: cores × MHz × 32 FLOP/cycle (two 256-bit FMA pipes on Zen 4). The host
// may boost above that nominal clock, so achieved/peak can exceed 100% (libtorch.md estimates ~166 GFLOP/s).
function nominalPeakGflops(): { gflops: number; mhz: number } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo)?.[1] ?? 2600);
  return { gflops: (threads * mhz * 32) / 1000, mhz };
}
const PEAK = nominalPeakGflops();
const PEAK_GFLOPS = +PEAK.gflops.toFixed(1);

function timeMs(fn: () => void, n: number, w: number): number[] {
  for (let i = 0; i < w; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** samtutor's side of one part: a fresh seeded model per part, exactly as reference.py does. */
function samtutorPart(part: Part): { samples: number[]; firstLoss?: number } {
  manualSeed(0);
  const model = buildUNet(SMALL_UNET_2D);
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([BATCH, 3, SIZE, SIZE]);
  const y = tidy(() => rand([BATCH, 1, SIZE, SIZE]).gt(0.5).float());
  const trainStep = (bf16: boolean): number => {
    const loss = tidy(() => {
      opt.zeroGrad();
      const logits: Tensor = bf16 ? autocast(() => model.forward(x)) : model.forward(x);
      const l = F.bceWithLogits(logits.float(), y);
      l.backward();
      return l.item();
    });
    opt.step();
    return loss;
  };
  const infer = (bf16: boolean): void => {
    inferenceMode(() => tidy(() => (bf16 ? autocast(() => model.forward(x)) : model.forward(x)))).dispose();
  };
  let firstLoss: number | undefined;
  let samples: number[];
  if (part === 'train' || part === 'train_bf16') {
    model.train();
    if (part === 'train') firstLoss = trainStep(false);
    samples = timeMs(() => trainStep(part === 'train_bf16'), iters, warmup);
  } else {
    model.eval();
    samples = timeMs(() => infer(part === 'infer_bf16'), iters, warmup);
  }
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
  return { samples, firstLoss };
}

function pytorchPart(part: Part): { samples: number[]; firstLoss?: number } {
  const res = spawnSync(args.python!, [join(here, 'reference.py'), '--threads', String(threads), '--iters', String(iters),
    '--warmup', String(warmup), '--parts', part], { encoding: 'utf8', env: PYTORCH_ENV });
  if (res.status !== 0) throw new Error(`PyTorch reference failed (${args.python}): ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`);
  const out = JSON.parse(res.stdout.trim().split('\n').pop()!);
  const key = { train: 'train_fp32', train_bf16: 'train_bf16', infer: 'infer_fp32', infer_bf16: 'infer_bf16' }[part];
  return { samples: out[`${key}_samples`], firstLoss: out.first_loss ?? undefined };
}

function flops(): { convMs: number; matmulMs: number } {
  manualSeed(0);
  return inferenceMode(() => tidy(() => {
    const cx = randn([8, 64, 128, 128]), cw = randn([64, 64, 3, 3]);
    const a = randn([2048, 2048]), b = randn([2048, 2048]);
    const convMs = median(timeMs(() => F.conv2d(cx, cw, null, { padding: 1 }).dispose(), 7, 2));
    const matmulMs = median(timeMs(() => a.mm(b).dispose(), 7, 2));
    return { convMs, matmulMs };
  }));
}

console.log(`bench/engine: SMALL_UNET_2D, batch ${BATCH}x3x${SIZE}x${SIZE}, ${getNumThreads()} threads, ${rounds} rounds x ${iters} iterations (+${warmup} warm-up), PyTorch heap: ${args['pytorch-heap']}`);
const st: Record<Part, number[]> = { train: [], train_bf16: [], infer: [], infer_bf16: [] };
const pt: Record<Part, number[]> = { train: [], train_bf16: [], infer: [], infer_bf16: [] };
const firstLoss: { samtutor?: number; pytorch?: number } = {};
for (let r = 0; r < rounds; r++) {
  for (const part of PARTS) {
    // Alternate which side goes first, so a slow phase of the machine does not always hit the same side.
    const order = r % 2 === 0 ? ['pytorch', 'samtutor'] : ['samtutor', 'pytorch'];
    for (const side of order) {
      const res = side === 'pytorch' ? pytorchPart(part) : samtutorPart(part);
      (side === 'pytorch' ? pt : st)[part].push(...res.samples);
      if (res.firstLoss !== undefined) firstLoss[side as 'samtutor' | 'pytorch'] = res.firstLoss;
      process.stderr.write('.');
    }
  }
}
process.stderr.write('\n');

const rows = PARTS.map((part) => {
  const s = median(st[part]), p = median(pt[part]);
  return { part, samtutor_ms: +s.toFixed(1), pytorch_ms: +p.toFixed(1), ratio: +(s / p).toFixed(3), samples: st[part].length };
});
console.log('\n| part | samtutor median (ms) | PyTorch median (ms) | samtutor / PyTorch |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.part} | ${r.samtutor_ms} | ${r.pytorch_ms} | ${r.ratio} |`);
const trainFp32 = rows.find((r) => r.part === 'train')!, trainBf16 = rows.find((r) => r.part === 'train_bf16')!;
console.log(`\nsamtutor bf16 train step vs fp32: ${(trainFp32.samtutor_ms / trainBf16.samtutor_ms).toFixed(3)}x faster`);
console.log(`first training loss: samtutor ${firstLoss.samtutor?.toFixed(6)}, PyTorch ${firstLoss.pytorch?.toFixed(6)}`);

const f = flops();
const convGflop = (2 * 8 * 64 * 128 * 128 * 64 * 9) / 1e9, mmGflop = (2 * 2048 ** 3) / 1e9;
const conv = convGflop / (f.convMs / 1000), mm = mmGflop / (f.matmulMs / 1000);
console.log(`fp32 peak at the reported ${PEAK.mhz.toFixed(0)} MHz x ${threads} cores x 32 FLOP/cycle: ${PEAK_GFLOPS} GFLOP/s (nominal; the host may boost higher)`);
console.log(`conv2d 8x64x128x128, 3x3 -> 64: ${f.convMs.toFixed(1)} ms, ${conv.toFixed(1)} GFLOP/s (${(100 * conv / PEAK_GFLOPS).toFixed(0)}% of nominal peak)`);
console.log(`matmul 2048x2048 fp32:           ${f.matmulMs.toFixed(1)} ms, ${mm.toFixed(1)} GFLOP/s (${(100 * mm / PEAK_GFLOPS).toFixed(0)}% of nominal peak)`);

mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, `${JSON.stringify({
  bench: 'engine', date: new Date().toISOString(), threads: getNumThreads(), pytorch_heap: args['pytorch-heap'], batch: BATCH, size: SIZE, rounds, iters, warmup, rows,
  bf16_train_speedup: +(trainFp32.samtutor_ms / trainBf16.samtutor_ms).toFixed(3), first_loss: firstLoss,
  conv_gflops: +conv.toFixed(1), matmul_gflops: +mm.toFixed(1), nominal_peak_gflops: PEAK_GFLOPS, reported_mhz: PEAK.mhz,
}, null, 1)}\n`);
console.log(`\nwrote ${args.out}`);
