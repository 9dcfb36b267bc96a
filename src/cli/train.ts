// `samtutor train`: builds the config (defaults ← --config ← flags), opens or creates the run directory and runs the
// method's trainer with a progress display: a bar with loss and ETA on a terminal, a plain line every 15 s
// otherwise (CI logs), one summary line per epoch, and curves.png redrawn after every epoch.
//
// --resume continues <run-dir>/last.pth with the run's own config.json; only --epochs (to extend the run) and
// --time-budget may differ. --time-budget is per session: it is not carried over to a resumed session.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { DataError } from '../data/index.ts';
import {
  ConfigError, NotACheckpointError, RunDirError, RunDirectory, buildConfig, mergeConfig, methodClass, validateConfig, type EpochRecord,
  type TrainConfig, type TrainerReporter,
} from '../methods/index.ts';
import { renderCurves } from './plot.ts';
import { UsageError } from './usage.ts';

export interface TrainOptions {
  method: string;
  data: string[];
  out: string;
  config?: string;
  size?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  timeBudget?: number;
  bf16?: boolean;
  split?: string;
  resume?: boolean;
  /** A config layer under --config and the flags (a command's own defaults, e.g. teacher train's). */
  defaults?: Record<string, unknown>;
}

const USER_ERRORS = [ConfigError, DataError, RunDirError, NotACheckpointError];
const isUserError = (err: unknown): err is Error => USER_ERRORS.some((E) => err instanceof E);

function readConfigFile(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`config file ${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** Flags as config keys (only those given). */
function flagConfig(o: TrainOptions): Record<string, unknown> {
  return {
    method: o.method, data: o.data, size: o.size, epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed,
    timeBudget: o.timeBudget, bf16: o.bf16 ? true : undefined, split: o.split,
  };
}

/** The saved config of a run to resume, with the flags that may change applied and the others checked. */
function resumeConfig(o: TrainOptions, run: RunDirectory): TrainConfig {
  if (o.config) throw new UsageError('--config cannot be combined with --resume: the run continues with its own config.json');
  const saved = validateConfig(run.readConfig());
  if (saved.method !== o.method) throw new UsageError(`--method ${o.method} differs from the run's method ${saved.method}`);
  const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((p, i) => resolve(p) === resolve(b[i]!));
  if (!same(o.data, saved.data)) throw new UsageError(`--data differs from the run's data (${saved.data.join(', ')})`);
  const fixed: [string, unknown, unknown][] = [
    ['--size', o.size, saved.size], ['--batch', o.batch, saved.batch], ['--lr', o.lr, saved.lr], ['--seed', o.seed, saved.seed], ['--split', o.split, saved.split],
  ];
  for (const [flag, given, was] of fixed) {
    if (given !== undefined && given !== was) throw new UsageError(`${flag} cannot change when resuming (the run has ${String(was)})`);
  }
  if (o.bf16 && !saved.bf16) throw new UsageError('--bf16 cannot change when resuming (the run trains in fp32)');
  return { ...saved, epochs: o.epochs ?? saved.epochs, timeBudget: o.timeBudget ?? null };
}

const duration = (s: number): string => (s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`);

/** Progress for a terminal (bar) or a log (a line every 15 s), plus epoch lines and curves.png. */
function cliReporter(): TrainerReporter {
  const tty = process.stdout.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  let epochs = 0, lastLine = 0;
  return {
    start(info) {
      epochs = info.config.epochs;
      const c = info.config;
      console.log(`samtutor train: ${info.method}, ${info.trainCases} training / ${info.valCases} validation cases, ` +
        `${c.model.spatialDims}D ${c.model.spatialDims === 2 ? `${c.size}px` : `patch ${c.patchSize!.join('x')}`}, batch ${c.batch}, ` +
        `${c.iterationsPerEpoch} iterations/epoch, ${info.startEpoch > 0 ? `resuming after epoch ${info.startEpoch}` : 'new run'} → ${info.run.path}`);
    },
    step({ epoch, iteration, iterations, terms }) {
      if (tty) {
        if (!bar) {
          const format = `epoch ${epoch + 1}/${epochs} |{bar}| {value}/{total} loss {loss} | ETA {eta_formatted}`;
          bar = new cliProgress.SingleBar({ format, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
          bar.start(iterations, 0, { loss: '-' });
        }
        bar.update(iteration, { loss: (terms.loss ?? 0).toFixed(4) });
      } else if (performance.now() - lastLine > 15000) {
        lastLine = performance.now();
        console.log(`epoch ${epoch + 1}/${epochs} step ${iteration}/${iterations} loss ${(terms.loss ?? 0).toFixed(4)}`);
      }
    },
    async epochEnd(record: EpochRecord, history: EpochRecord[], run: RunDirectory) {
      bar?.stop();
      bar = null;
      const f = (v: number | null | undefined, d = 4): string => (typeof v === 'number' ? v.toFixed(d) : '-');
      const recent = history.slice(-5).map((r) => r.epochSeconds ?? 0);
      const remaining = (epochs - (record.epoch ?? 0)) * (recent.reduce((a, b) => a + b, 0) / recent.length);
      console.log(`epoch ${record.epoch}/${epochs} loss ${f(record.trainLoss)} valDice ${f(record.valDice)} valHd95 ${f(record.valHd95, 2)} ` +
        `lr ${f(record.lr, 6)} ${f(record.epochSeconds, 1)}s ${f(record.imagesPerSecond, 1)} img/s${remaining > 0 ? ` · run ETA ${duration(remaining)}` : ''}`);
      await renderCurves(history, run.curves).catch((err: Error) => console.log(`(curves.png not drawn: ${err.message.split('\n')[0]})`));
    },
  };
}

export async function runTrain(opts: TrainOptions): Promise<void> {
  try {
    const cls = methodClass(opts.method);
    const out = resolve(opts.out);
    const fresh = opts.resume ? null : buildConfig(mergeConfig(opts.defaults ?? {}, opts.config ? readConfigFile(opts.config) : {}), flagConfig(opts));
    if (fresh) cls.checkMethodOptions(fresh.methodOptions); // before the run directory exists
    const run = opts.resume ? RunDirectory.open(out) : RunDirectory.create(out);
    const config = fresh ?? resumeConfig(opts, run);
    const trainer = new cls(config, { run, resume: opts.resume === true, reporter: cliReporter() });
    const summary = await trainer.run().catch((err: unknown) => {
      if (!opts.resume) run.discardUnstarted();
      throw err;
    });
    const best = summary.best.value === null ? 'no validation' : `best valDice ${summary.best.value.toFixed(4)} at epoch ${summary.best.epoch}`;
    const why = summary.stopReason === 'time-budget' ? ' (time budget reached; --resume continues)' : '';
    console.log(`done: ${summary.epoch} epochs, ${summary.step} steps, ${summary.trainingSeconds.toFixed(1)}s of training${why}; ${best}; ${run.path}`);
  } catch (err) {
    if (isUserError(err)) throw new UsageError(err.message);
    throw err;
  }
}

export interface TeacherTrainOptions extends Omit<TrainOptions, 'method' | 'defaults'> {
  arch: string;
  init?: string;
}

/** `samtutor teacher train`: the teacher method with MedSAM's optimiser settings as defaults. */
export async function runTeacherTrain(o: TeacherTrainOptions): Promise<void> {
  if (o.init !== undefined && !existsSync(o.init)) throw new UsageError(`--init checkpoint not found: ${o.init}`);
  const defaults = {
    size: 256, weightDecay: 0.01, lr: o.init ? 1e-4 : 5e-4, methodOptions: { arch: o.arch, init: o.init ? resolve(o.init) : null },
  };
  await runTrain({ ...o, method: 'teacher', defaults: o.resume ? undefined : defaults });
}
