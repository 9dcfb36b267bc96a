// Training methods by name, as `samtutor train --method` and checkpoints name them. Later methods (mugu, sc-sam,
// esp-medsam) are one entry each.
import { ConfigError } from './configChecks.ts';
import { SupervisedTrainer } from './supervised.ts';
import { TeacherTrainer } from './teacher.ts';
import type { Trainer, TrainerOptions } from './trainer.ts';
import type { TrainConfig } from './config.ts';

/** A Trainer subclass: constructible, with the static side (methodName, checkMethodOptions, buildInference). */
export type TrainerClass = (new (config: TrainConfig, o: TrainerOptions) => Trainer) & Pick<typeof Trainer, 'methodName' | 'checkMethodOptions' | 'buildInference'>;

export const METHODS: Readonly<Record<string, TrainerClass>> = Object.freeze({
  supervised: SupervisedTrainer,
  teacher: TeacherTrainer,
});

export const METHOD_NAMES: readonly string[] = Object.freeze(Object.keys(METHODS));

/** The class of a method; an unknown name is an error listing the valid ones. */
export function methodClass(name: string): TrainerClass {
  const cls = Object.prototype.hasOwnProperty.call(METHODS, name) ? METHODS[name] : undefined;
  if (!cls) throw new ConfigError(`unknown method "${name}" (valid: ${METHOD_NAMES.join(', ')})`);
  return cls;
}
