// Dropout (elementwise) and Dropout2d/3d (whole channels): active in training, the identity in eval.
import { type Tensor, F } from '../engine/index.ts';
import { Module } from './module.ts';
import { numberIn } from './util.ts';

abstract class DropoutBase extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = numberIn(p, 'p', 0, 1);
  }
  override extraRepr(): string {
    return `p=${this.p}, inplace=False`;
  }
}

export class Dropout extends DropoutBase {
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** Zeroes whole channels of [N, C, H, W] (torch's feature dropout). */
export class Dropout2d extends DropoutBase {
  forward(x: Tensor): Tensor {
    if (x.ndim !== 3 && x.ndim !== 4) throw new RangeError(`Dropout2d: expected a 3-d or 4-d input but received shape [${x.shape.join(', ')}]`);
    return F.featureDropout(x, this.p, this.training);
  }
}

/** Zeroes whole channels of [N, C, D, H, W]. */
export class Dropout3d extends DropoutBase {
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 && x.ndim !== 5) throw new RangeError(`Dropout3d: expected a 4-d or 5-d input but received shape [${x.shape.join(', ')}]`);
    return F.featureDropout(x, this.p, this.training);
  }
}
