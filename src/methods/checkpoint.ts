// samtutor training checkpoints: one torch.load-able dict (written atomically by saveCheckpoint)
//   { format: 'samtutor-checkpoint', version: 1, method, config, models: {name: OrderedDict state_dict},
//     optimizers: {name: torch optimizer state_dict}, schedulers: {name: torch scheduler state_dict}, epoch, step,
//     best: {metric, value, epoch}, rng: {global, data, augment: uint8 tensors}, preprocessing, trainingSeconds }
// `epoch` counts finished epochs. In Python: ck = torch.load('best.pth'); net.load_state_dict(ck['models']['student']).
import { Tensor } from '../engine/index.ts';
import { OrderedDict, PyDict, loadCheckpoint, saveCheckpoint } from '../engine/serialization/index.ts';
import type { OptimizerStateDict } from '../engine/optim/index.ts';
import type { Preprocessing } from './preprocess.ts';

export const CHECKPOINT_FORMAT = 'samtutor-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface BestRecord {
  metric: string;
  /** null until a validation has run. */
  value: number | null;
  epoch: number | null;
}

export interface CheckpointContent {
  method: string;
  /** The resolved config (config.json). */
  config: Record<string, unknown>;
  models: Record<string, Map<string, Tensor>>;
  optimizers: Record<string, OptimizerStateDict>;
  schedulers: Record<string, Record<string, unknown>>;
  epoch: number;
  step: number;
  best: BestRecord;
  rng: Record<string, Tensor>;
  preprocessing: Preprocessing;
  /** Cumulative seconds spent in epochs (training and validation) over all sessions. */
  trainingSeconds: number;
  /** Method-specific state (EMA teachers, queues...), saved as given. */
  extra?: Record<string, unknown>;
}

/** A file that exists but is not a samtutor checkpoint. */
export class NotACheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotACheckpointError';
  }
}

/** torch keys optimizer state by parameter index (an int): a dict with int keys, not strings. */
const optimizerForTorch = (sd: OptimizerStateDict): PyDict => new PyDict<string, unknown>([
  ['state', new PyDict(Object.entries(sd.state).map(([k, v]) => [Number(k), v]))],
  ['param_groups', sd.param_groups],
]);

export function writeCheckpoint(path: string, c: CheckpointContent): void {
  const models = Object.fromEntries(Object.entries(c.models).map(([k, sd]) => [k, new OrderedDict(sd)]));
  const optimizers = Object.fromEntries(Object.entries(c.optimizers).map(([k, sd]) => [k, optimizerForTorch(sd)]));
  saveCheckpoint(path, {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, method: c.method, config: c.config, models, optimizers,
    schedulers: c.schedulers, epoch: c.epoch, step: c.step, best: c.best, rng: c.rng, preprocessing: c.preprocessing,
    trainingSeconds: c.trainingSeconds, extra: c.extra ?? {},
  });
}

/**
 * Python dicts back to plain objects (string keys), except state dicts (OrderedDict of tensors, kept as Maps) and
 * dicts with int keys (optimizer state, kept as Maps as Optimizer.loadStateDict accepts).
 */
function toPlain(v: unknown): unknown {
  if (v instanceof Tensor || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof OrderedDict) return v;
  if (v instanceof Map) {
    const entries = [...v.entries()];
    if (entries.some(([k]) => typeof k !== 'string')) return new Map(entries.map(([k, x]) => [k, toPlain(x)]));
    return Object.fromEntries(entries.map(([k, x]) => [k, toPlain(x)]));
  }
  return v;
}

/** Reads a checkpoint written by writeCheckpoint; tensors are owned by the caller (disposeCheckpoint frees them). */
export function readCheckpoint(path: string): CheckpointContent {
  let root: unknown;
  try {
    root = loadCheckpoint(path);
  } catch (err) {
    throw new NotACheckpointError(`${path} is not a samtutor checkpoint: ${(err as Error).message.split('\n')[0]}`);
  }
  const c = toPlain(root) as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || c instanceof Map || c.format !== CHECKPOINT_FORMAT) {
    disposeAll(root);
    throw new NotACheckpointError(`${path} is not a samtutor checkpoint (no format '${CHECKPOINT_FORMAT}'; is it a plain state_dict?)`);
  }
  if (c.version !== CHECKPOINT_VERSION) {
    disposeAll(root);
    throw new NotACheckpointError(`${path} is a samtutor checkpoint of version ${String(c.version)}; this samtutor reads version ${CHECKPOINT_VERSION}`);
  }
  return c as unknown as CheckpointContent;
}

function disposeAll(v: unknown): void {
  if (v instanceof Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(disposeAll);
  else if (v instanceof Map) for (const x of v.values()) disposeAll(x);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) disposeAll(x);
}

/** Frees every tensor a read checkpoint holds. */
export const disposeCheckpoint = (c: CheckpointContent): void => disposeAll(c);
