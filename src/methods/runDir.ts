// The run directory: config.json, split.json, last.pth, best.pth, metrics.jsonl (one JSON line per epoch) and
// curves.png. A new run refuses an existing non-empty directory; a resumed one needs config.json and last.pth.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/serialization/index.ts';

/** A run directory that cannot be used as asked (exists without --resume, or is not a run). */
export class RunDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirError';
  }
}

/** One metrics.jsonl line: plain numbers (timing fields: epochSeconds, trainingSeconds, imagesPerSecond). */
export type EpochRecord = Record<string, number | null>;

/** Keys of an EpochRecord that depend on the machine's speed, not on the computation. */
export const TIMING_KEYS: readonly string[] = ['epochSeconds', 'trainingSeconds', 'imagesPerSecond'];

export class RunDirectory {
  readonly config: string;
  readonly split: string;
  readonly last: string;
  readonly best: string;
  readonly metrics: string;
  readonly curves: string;

  private constructor(readonly path: string, private readonly created = false) {
    this.config = join(path, 'config.json');
    this.split = join(path, 'split.json');
    this.last = join(path, 'last.pth');
    this.best = join(path, 'best.pth');
    this.metrics = join(path, 'metrics.jsonl');
    this.curves = join(path, 'curves.png');
  }

  /** A new run: the directory must not exist or be empty. */
  static create(path: string): RunDirectory {
    if (existsSync(path)) {
      if (!statSync(path).isDirectory()) throw new RunDirError(`--out ${path} is a file, not a run directory`);
      if (readdirSync(path).length > 0) throw new RunDirError(`run directory ${path} already exists; pass --resume to continue it or choose another --out`);
    }
    const created = !existsSync(path);
    mkdirSync(path, { recursive: true });
    return new RunDirectory(path, created);
  }

  /**
   * Undoes a new run that failed before its first checkpoint (bad data, bad config), so the same command can be
   * run again: removes the files a run writes, and the directory if this run created it.
   */
  discardUnstarted(): void {
    if (existsSync(this.last)) return;
    for (const f of [this.config, this.split, this.metrics, this.curves]) rmSync(f, { force: true });
    if (this.created && readdirSync(this.path).length === 0) rmSync(this.path, { recursive: true, force: true });
  }

  /** An existing run to resume: it needs config.json and last.pth. */
  static open(path: string): RunDirectory {
    const run = new RunDirectory(path);
    if (!existsSync(path)) throw new RunDirError(`cannot resume: run directory ${path} does not exist`);
    for (const f of [run.config, run.last]) {
      if (!existsSync(f)) throw new RunDirError(`cannot resume ${path}: it has no ${f.slice(path.length + 1)}`);
    }
    return run;
  }

  readConfig(): Record<string, unknown> {
    try {
      return JSON.parse(readFileSync(this.config, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new RunDirError(`cannot read ${this.config}: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  writeConfig(config: object): void {
    writeFileAtomic(this.config, (fd) => void writeSync(fd, `${JSON.stringify(config, null, 2)}\n`));
  }

  appendMetrics(record: EpochRecord): void {
    appendFileSync(this.metrics, `${JSON.stringify(record)}\n`);
  }

  readMetrics(): EpochRecord[] {
    if (!existsSync(this.metrics)) return [];
    return readFileSync(this.metrics, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EpochRecord);
  }

  /** Drops lines past `epoch` (written after the checkpoint a resume starts from), keeping the file consistent. */
  truncateMetrics(epoch: number): EpochRecord[] {
    const kept = this.readMetrics().filter((r) => (r.epoch ?? 0) <= epoch);
    writeFileSync(this.metrics, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return kept;
  }
}
