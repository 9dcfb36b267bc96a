// samtutor's command line. Each subcommand lives in its own module; this file only wires them.
// Usage errors (unknown flags, bad values, missing paths) print one line and exit with code 2.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from './usage.ts';

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

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
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
