// SAM's MLPs (segment_anything/modeling): MLP (mask decoder heads) and MLPBlock (the ViT block's feed-forward).
import { type Tensor, F, tidy } from '../engine/index.ts';
import { Module, type UnaryModule } from './module.ts';
import { Linear } from './linear.ts';
import { ModuleList } from './container.ts';
import { GELU } from './activation.ts';
import { positiveInt } from './util.ts';

/**
 * numLayers Linear layers (`layers.0` … `layers.{n-1}`) with ReLU between them and an optional final sigmoid:
 * dims inputDim → hiddenDim × (numLayers-1) → outputDim, as segment_anything.modeling.mask_decoder.MLP.
 */
export class MLP extends Module {
  readonly numLayers: number;
  readonly sigmoidOutput: boolean;
  readonly layers: ModuleList<Linear>;

  constructor(inputDim: number, hiddenDim: number, outputDim: number, numLayers: number, opts: { sigmoidOutput?: boolean } = {}) {
    super();
    this.numLayers = positiveInt(numLayers, 'numLayers');
    this.sigmoidOutput = opts.sigmoidOutput ?? false;
    const h = Array<number>(numLayers - 1).fill(hiddenDim);
    const ins = [inputDim, ...h], outs = [...h, outputDim];
    this.layers = this.registerModule('layers', new ModuleList(ins.map((n, i) => new Linear(n, outs[i]!))));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      this.layers.map((layer, i) => {
        y = i < this.numLayers - 1 ? F.relu(layer.forward(y)) : layer.forward(y);
      });
      return this.sigmoidOutput ? F.sigmoid(y) : y;
    });
  }
}

/** lin2(act(lin1(x))): embeddingDim → mlpDim → embeddingDim, GELU by default (segment_anything common.MLPBlock). */
export class MLPBlock extends Module {
  readonly lin1: Linear;
  readonly lin2: Linear;
  readonly act: UnaryModule;

  constructor(embeddingDim: number, mlpDim: number, act: () => UnaryModule = () => new GELU()) {
    super();
    this.lin1 = this.registerModule('lin1', new Linear(embeddingDim, mlpDim));
    this.lin2 = this.registerModule('lin2', new Linear(mlpDim, embeddingDim));
    this.act = this.registerModule('act', act());
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.lin2.forward(this.act.forward(this.lin1.forward(x))));
  }
}
