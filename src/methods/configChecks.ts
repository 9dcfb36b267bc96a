// One check per config key, in sharp's message format ("Expected integer >= 1 for epochs but received 0 of type
// number"); nested keys are named by path (loss.gamma, model.widths).

/** A config value a user gave that cannot be used (the CLI reports it as a usage error). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Check = (v: unknown, name: string) => void;

const shown = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? `[${v.join(', ')}]` : isObj(v) ? JSON.stringify(v) : String(v));
const fail = (expected: string, name: string, v: unknown): ConfigError =>
  new ConfigError(`Expected ${expected} for ${name} but received ${shown(v)} of type ${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v}`);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const int = (min: number, max = Infinity): Check => (v, name) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(max === Infinity ? `integer >= ${min}` : `integer between ${min} and ${max}`, name, v);
};
const num = (min: number, max = Infinity, exclusiveMin = false): Check => (v, name) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (exclusiveMin && v === min)) {
    throw fail(exclusiveMin ? `number > ${min}` : max === Infinity ? `number >= ${min}` : `number between ${min} and ${max}`, name, v);
  }
};
const oneOf = (...options: unknown[]): Check => (v, name) => {
  if (!options.includes(v)) throw fail(`one of ${options.join(', ')}`, name, v);
};
const bool: Check = (v, name) => {
  if (typeof v !== 'boolean') throw fail('true or false', name, v);
};
const nullable = (check: Check): Check => (v, name) => {
  if (v !== null) check(v, name);
};
const intList = (min: number, length?: number[]): Check => (v, name) => {
  const ok = Array.isArray(v) && (length ? length.includes(v.length) : v.length > 0) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min);
  if (!ok) throw fail(`a list of ${length ? length.join(' or ') : 'one or more'} integers >= ${min}`, name, v);
};
const text: Check = (v, name) => {
  if (typeof v !== 'string' || v.length === 0) throw fail('a non-empty string', name, v);
};

export function checkObject(v: unknown, name: string): Record<string, unknown> {
  if (!isObj(v)) throw fail('an object', name, v);
  return v;
}

/** Checks an object's keys against `checks`: unknown keys and missing required keys are errors. */
function nested(checks: Record<string, Check>, optional: string[] = []): Check {
  return (v, name) => {
    const o = checkObject(v, name);
    for (const k of Object.keys(o)) if (!(k in checks)) throw new ConfigError(`unknown key "${name}.${k}" (known: ${Object.keys(checks).join(', ')})`);
    for (const [k, check] of Object.entries(checks)) {
      if (!(k in o)) {
        if (optional.includes(k)) continue;
        throw new ConfigError(`config is missing "${name}.${k}"`);
      }
      check(o[k], `${name}.${k}`);
    }
  };
}

const alpha: Check = (v, name) => {
  if (v === null) return;
  if (typeof v === 'number') return num(0, 1)(v, name);
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && x >= 0)) throw fail('null, a number between 0 and 1, or a list of class weights', name, v);
};

const MODEL_CHECKS: Record<string, Check> = {
  widths: intList(1), norm: oneOf('batch', 'instance', 'group', 'none'), groups: int(1), dropout: num(0, 0.99),
  upsample: oneOf('transpose', 'interpolate'), convsPerLevel: int(1),
  arch: oneOf('unet', 'dual-head-unet'), spatialDims: oneOf(2, 3), inChannels: int(1), outChannels: int(1),
};

const LOSS_CHECKS: Record<string, Check> = {
  name: oneOf('dice-ce', 'dice', 'ce', 'focal', 'dice-focal'), batchDice: bool, includeBackground: bool, smooth: num(0),
  lambdaDice: num(0), lambdaCE: num(0), gamma: num(0), alpha,
  boundary: nullable(nested({ radius: int(0, 64), weight: num(0), sigma: nullable(num(0, Infinity, true)) })),
};

/** The check of every top-level key. */
export const CONFIG_CHECKS = {
  method: text,
  data: (v: unknown, name: string) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length > 0)) throw fail('a non-empty list of dataset folders', name, v);
  },
  model: nested(MODEL_CHECKS, ['arch', 'spatialDims', 'inChannels', 'outChannels']),
  size: nullable(int(8, 4096)),
  patchSize: nullable(intList(8, [3])),
  channels: oneOf('auto', 1, 3),
  normalization: oneOf('auto', 'unit', 'zscore'),
  epochs: int(1),
  iterationsPerEpoch: nullable(int(1)),
  batch: nullable(int(1)),
  optimizer: oneOf('adamw', 'adam', 'sgd'),
  lr: num(0, Infinity, true),
  momentum: num(0, 1),
  weightDecay: num(0),
  schedule: oneOf('poly', 'cosine', 'constant'),
  warmupEpochs: int(0),
  loss: nested(LOSS_CHECKS),
  augment: oneOf('none', 'weak', 'strong'),
  bf16: bool,
  seed: int(0, 2 ** 31 - 1),
  valFraction: num(0, 0.9),
  testFraction: num(0, 0.9),
  split: nullable(text),
  threads: nullable(int(1, 1024)),
  timeBudget: nullable(num(0, Infinity, true)),
  valEvery: int(1),
  valHd95: bool,
  foregroundProb: num(0, 1),
  overlap: num(0, 0.95),
  maxTrainCases: nullable(int(1)),
  maxValCases: nullable(int(0)),
  methodOptions: (v: unknown, name: string) => void checkObject(v, name),
} satisfies Record<string, Check>;
