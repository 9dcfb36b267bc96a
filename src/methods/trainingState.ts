// A trainer's resumable state ↔ a checkpoint file: the saved models, every optimizer and schedule, the three
// random streams (global: weight init and dropout; data: case order and patches; augment: the pipeline) and the
// counters. Restoring all of them is what makes a resumed run bit-identical to an uninterrupted one.
import { type Generator, dispose, getRngState, setRngState } from '../engine/index.ts';
import type { Module } from '../nn/index.ts';
import { type BestRecord, type CheckpointContent, disposeCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { ConfigError } from './configChecks.ts';
import { type OptimizerLike, type SchedulerLike, retargetSchedule } from './optimizers.ts';
import type { Preprocessing } from './preprocess.ts';
import type { ResolvedConfig } from './resolve.ts';

/** The live parts a checkpoint captures. */
export interface TrainingParts {
  method: string;
  config: ResolvedConfig;
  prep: Preprocessing;
  /** The models to save (frozen teachers are left out by the trainer). */
  models: Record<string, Module>;
  optimizers: Record<string, OptimizerLike>;
  schedulers: Record<string, SchedulerLike>;
  generators: { data: Generator; augment: Generator };
}

/** The counters a checkpoint carries. */
export interface TrainingProgress {
  epoch: number;
  step: number;
  best: BestRecord;
  trainingSeconds: number;
  extra: Record<string, unknown>;
}

export function saveTraining(path: string, parts: TrainingParts, progress: TrainingProgress): void {
  const owned = {
    optimizers: Object.fromEntries(Object.entries(parts.optimizers).map(([k, o]) => [k, o.stateDict()])),
    rng: { global: getRngState(), data: parts.generators.data.getState(), augment: parts.generators.augment.getState() },
  };
  try {
    writeCheckpoint(path, {
      method: parts.method, config: parts.config as unknown as Record<string, unknown>, preprocessing: parts.prep, ...owned,
      models: Object.fromEntries(Object.entries(parts.models).map(([k, m]) => [k, m.stateDict()])),
      schedulers: Object.fromEntries(Object.entries(parts.schedulers).map(([k, s]) => [k, s.stateDict()])),
      ...progress,
    });
  } finally {
    dispose(owned);
  }
}

/**
 * Loads a checkpoint into the parts (built fresh as for a new run) and returns its counters. Schedules are
 * stretched to the config's epochs, so a resumed run may train longer than it was first set to.
 */
export function restoreTraining(path: string, parts: TrainingParts): TrainingProgress {
  const c: CheckpointContent = readCheckpoint(path);
  try {
    if (c.method !== parts.method) throw new ConfigError(`${path} was written by method ${c.method}, not ${parts.method}`);
    for (const [k, m] of Object.entries(parts.models)) m.loadStateDict(c.models[k] ?? new Map());
    for (const [k, opt] of Object.entries(parts.optimizers)) {
      if (!c.optimizers[k]) throw new ConfigError(`${path} has no state for optimizer ${k}`);
      opt.loadStateDict(c.optimizers[k] as Parameters<OptimizerLike['loadStateDict']>[0]);
    }
    for (const [k, s] of Object.entries(parts.schedulers)) {
      s.loadStateDict(c.schedulers[k]!);
      retargetSchedule(s, parts.config.epochs * parts.config.iterationsPerEpoch);
    }
    setRngState(c.rng.global!);
    parts.generators.data.setState(c.rng.data!);
    parts.generators.augment.setState(c.rng.augment!);
    return { epoch: c.epoch, step: c.step, best: c.best, trainingSeconds: c.trainingSeconds, extra: c.extra ?? {} };
  } finally {
    disposeCheckpoint(c);
  }
}
