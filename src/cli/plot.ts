// curves.png for a run directory: training loss terms and validation Dice per epoch, drawn with Vega-Lite (pure
// JS, rendered to SVG without a browser) and rasterised by sharp. Written atomically, so a viewer never sees half
// a file; vega is imported on first use (it takes a moment to load).
import { renameSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import sharp from 'sharp';
import type { EpochRecord } from '../methods/index.ts';

type Point = { epoch: number; series: string; value: number };

/** Long-format points of every train* term (e.g. trainLoss, trainDiceLoss, trainCeLoss) and of valDice. */
function points(history: EpochRecord[]): { loss: Point[]; dice: Point[] } {
  const loss: Point[] = [], dice: Point[] = [];
  for (const r of history) {
    const epoch = r.epoch ?? 0;
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      if (k.startsWith('train') && k !== 'trainingSeconds') loss.push({ epoch, series: k.slice(5).toLowerCase(), value: v });
      if (k === 'valDice') dice.push({ epoch, series: 'validation Dice', value: v });
    }
  }
  return { loss, dice };
}

function panel(title: string, values: Point[], yTitle: string, domain?: [number, number]): Record<string, unknown> {
  return {
    title, width: 360, height: 220, data: { values },
    mark: { type: 'line', point: values.length < 60 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: yTitle, ...(domain ? { scale: { domain } } : {}) },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/** Renders the curves of `history` (metrics.jsonl records) to a PNG at `path`. */
export async function renderCurves(history: EpochRecord[], path: string): Promise<void> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const { loss, dice } = points(history);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    hconcat: [panel('training loss', loss, 'loss'), panel('validation Dice', dice, 'Dice', [0, 1])],
    config: { background: 'white', font: 'sans-serif' },
  };
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG(2);
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    await sharp(Buffer.from(svg)).png().toFile(tmp);
    renameSync(tmp, path);
  } finally {
    view.finalize();
  }
}
