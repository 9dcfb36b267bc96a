// samtutor's command line. Each subcommand lives in its own module; this file only wires them.
// Usage errors (unknown flags, bad values, missing paths) print one line and exit with code 2.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from './usage.ts';

// Output piped into a reader that stops early (`samtutor info | head -1`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const program = new Command('samtutor')
  .description('Segment-Anything tutors small, fast segmentation students (MuGu, SC-SAM, ESP-MedSAM)')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `samtutor: ${s}` : s) })
  .showSuggestionAfterError(true);

program
  .command('info')
  .description('print versions, threads and the native engine build')
  .action(async () => (await import('./info.ts')).runInfo());

program
  .command('demo')
  .description('train the small U-Net on Kvasir-SEG for about a minute and plot its loss curve')
  .option('--data <dir>', 'a 2D images/ + masks/ dataset', '../shared/data/polyp-kvasir-256')
  .option('--seconds <n>', 'training time budget', positiveNumber, 60)
  .option('--size <px>', 'input size', positiveInt, 128)
  .option('--batch <n>', 'batch size', positiveInt, 8)
  .option('--seed <n>', 'random seed', positiveInt, 0)
  .action(async (opts) => (await import('./demo.ts')).runDemo(opts));

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The options every training command shares (train, teacher train); help texts may differ per command. */
function runOptions(cmd: Command, help: { size: string; lr: string; out: string }): Command {
  return cmd
    .requiredOption('--data <dir>', 'dataset folder (repeat for several)', collect)
    .requiredOption('--out <run-dir>', help.out)
    .option('--config <file>', 'JSON config; command-line flags override it')
    .option('--size <px>', help.size, positiveInt)
    .option('--epochs <n>', 'epochs', positiveInt)
    .option('--batch <n>', 'batch size', positiveInt)
    .option('--lr <x>', help.lr, positiveNumber)
    .option('--seed <n>', 'random seed', positiveInt)
    .option('--time-budget <minutes>', 'stop after this much training time (checkpoints stay resumable)', positiveNumber)
    .option('--bf16', 'bf16 autocast for forward passes')
    .option('--split <file>', 'a split JSON to reuse (default: <run-dir>/split.json, created when missing)')
    .option('--resume', 'continue the run in <run-dir> exactly where its last checkpoint left off');
}

runOptions(program
  .command('train')
  .description('train a student (or, with later methods, a student and its teacher) and write a run directory')
  .requiredOption('--method <name>', 'training method: supervised, teacher'), {
  out: 'run directory: config, checkpoints, metrics.jsonl, curves', size: 'model input size (2D: side; 3D: patch side)', lr: 'learning rate',
}).action(async (opts) => (await import('./train.ts')).runTrain(opts));

const teacher = program.command('teacher').description('SAM teachers for the guidance methods');
runOptions(teacher
  .command('train')
  .description('MedSAM-style prompted training of a SAM-family model (jittered ground-truth boxes, sampled points)')
  .requiredOption('--arch <name>', 'custom (a small ViT, about 6 M parameters), vit_b, vit_t / mobile_sam (1024 only)')
  .option('--init <checkpoint>', 'start from a SAM-family checkpoint (resized to --size for ViTs); default: from scratch'), {
  out: 'run directory, as for train; best.pth loads in sam predict', size: 'input size, a multiple of 16 (256 or 1024; default 256)',
  lr: 'learning rate (default 5e-4 from scratch, 1e-4 with --init)',
}).action(async (opts) => (await import('./train.ts')).runTeacherTrain(opts));

program
  .command('predict')
  .description('segment images or volumes with a trained student; masks at the original size and geometry')
  .requiredOption('--model <run-dir|checkpoint>', 'a run directory (uses best.pth) or a checkpoint file')
  .requiredOption('--input <file|dir>', 'an image/volume file or a folder of them')
  .requiredOption('--out <dir>', 'output folder (PNG masks and overlays for 2D, NIfTI for 3D)')
  .option('--probabilities', 'also write foreground probability maps')
  .option('--bf16', 'bf16 autocast for the forward pass')
  .action(async (opts) => (await import('./predict.ts')).runPredict(opts));

program
  .command('evaluate')
  .description('score predicted masks against ground truth (pairs by stem); prints a summary, writes JSON and CSV')
  .requiredOption('--pred <dir>', 'folder of predicted masks')
  .requiredOption('--gt <dir>', 'folder of ground-truth masks (or a dataset folder with masks/ or labelsTr/)')
  .requiredOption('--out <file.json>', 'summary JSON; the per-case CSV is written beside it')
  .option('--spacing <x,y[,z]>', 'pixel/voxel spacing (default: from the files, else 1)')
  .option('--labels <list>', 'labels to score, e.g. 1,2 (default: all non-zero labels present)')
  .option('--convention <name>', 'metric convention: default, medpy, monai, deepmind, cvpr24', 'default')
  .option('--tolerance <mm>', 'NSD tolerance in physical units', positiveNumber, 2)
  .action(async (opts) => (await import('./evaluate.ts')).runEvaluate(opts));

const sam = program.command('sam').description('the SAM family: prompt SAM / MobileSAM checkpoints');
sam
  .command('predict')
  .description('segment one image with point / box / mask prompts given in original-image pixels')
  .requiredOption('--checkpoint <file>', 'a SAM-family checkpoint (.pth, .pt or .safetensors)')
  .option('--model-type <name>', 'auto (detected from the weights; a vit_b file named *medsam* is MedSAM) or a registry name: vit_b, vit_l, vit_h, medsam, mobile_sam, lite_medsam (the MedSAM names select their own preprocessing)', 'auto')
  .requiredOption('--image <file>', 'the image (8-bit grey or RGB)')
  .option('--point <x,y,label>', 'a prompt point in pixels; label 1 foreground, 0 background (repeatable)', collect, [])
  .option('--box <x0,y0,x1,y1>', 'a prompt box in pixels')
  .option('--mask-input <npy>', 'low-res mask logits (float32 256x256 or 1x256x256 .npy) from an earlier prediction')
  .option('--multimask', 'three candidate masks instead of one')
  .requiredOption('--out <dir>', 'output folder: mask_<i>.png (0/255) and scores.json')
  .option('--save-embedding <file.npy>', 'also write the image embedding (float32, 1x256x64x64)')
  .option('--save-logits', 'also write logits_<i>.npy (float32, original size)')
  .action(async (opts) => { await (await import('./sam.ts')).runSamPredict(opts); });
sam
  .command('auto')
  .description("segment everything: SAM's automatic mask generator (a grid of point prompts, IoU / stability filters, NMS)")
  .requiredOption('--checkpoint <file>', 'a SAM-family checkpoint (.pth, .pt or .safetensors)')
  .option('--model-type <name>', 'auto (detected from the weights; a vit_b file named *medsam* is MedSAM) or a registry name: vit_b, vit_l, vit_h, medsam, mobile_sam, lite_medsam (the MedSAM names select their own preprocessing)', 'auto')
  .requiredOption('--image <file>', 'the image (8-bit grey or RGB)')
  .requiredOption('--out <dir>', 'output folder: mask_<i>.png (0/255) and masks.json (boxes XYWH, scores, points)')
  .option('--points-per-side <n>', 'grid points per side (default 32)', positiveInt)
  .option('--points-per-batch <n>', 'points decoded at once (default 64)', positiveInt)
  .option('--pred-iou-thresh <x>', 'keep masks with predicted IoU above this (default 0.88)', unitInterval)
  .option('--stability-score-thresh <x>', 'keep masks with stability score at least this (default 0.95)', unitInterval)
  .option('--box-nms-thresh <x>', 'box IoU above which duplicates are removed (default 0.7)', unitInterval)
  .option('--crop-n-layers <n>', 'extra layers of overlapping crops (default 0)', positiveInt)
  .option('--min-mask-region-area <px>', 'fill holes and remove islands smaller than this (default 0: off)', positiveInt)
  .action(async (opts) => { await (await import('./sam.ts')).runSamAuto(opts); });

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}
function unitInterval(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number between 0 and 1');
  return n;
}
function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`samtutor: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`samtutor: ${(err as Error).message}\n`);
  process.exit(1);
}
