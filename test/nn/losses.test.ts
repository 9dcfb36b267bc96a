// Segmentation losses against hand-computed values and against the reference formulas written in PyTorch
// (MONAI DiceLoss, torchvision sigmoid_focal_loss, torch BCE/CE, a brute-force chessboard distance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, dispose, manualSeed, memory, randint, randn, tensor, tidy, zeros } from '../../src/engine/index.ts';
import {
  bceLoss, boundaryDistance, boundaryWeights, crossEntropyLoss, diceBCELoss, diceCELoss, focalLoss, softDiceLoss,
} from '../../src/nn/losses/index.ts';
import { runTorch, skipWithoutTorch } from './torch_ref.ts';

const close = (a: number, b: number, tol = 1e-6, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const item = (t: Tensor): number => { try { return t.item(); } finally { t.dispose(); } };

test('soft Dice: hand values for logits 0 (p = 0.5) and for confident correct logits', () => {
  // One image, 4 pixels, 2 of them foreground: I = 0.5 + 0.5 = 1, Σp = 2, Σg = 2 → 1 − (2 + s)/(4 + s).
  const logits = zeros([1, 1, 2, 2]);
  const mask = tensor(new Uint8Array([1, 0, 1, 0]), [1, 2, 2]);
  close(item(softDiceLoss(logits, mask)), 1 - (2 + 1e-5) / (4 + 1e-5), 1e-7, 'p=0.5');
  const confident = tensor([20, -20, 20, -20], [1, 1, 2, 2]);
  assert.ok(item(softDiceLoss(confident, mask)) < 1e-6);
  // Smoothing makes an empty target with an empty prediction a perfect score (loss 0), not NaN.
  const none = tensor([-30, -30, -30, -30], [1, 1, 2, 2]);
  close(item(softDiceLoss(none, zeros([1, 2, 2], { dtype: 'uint8' }), { smoothNr: 1, smoothDr: 1 })), 0, 1e-6, 'empty');
  dispose([logits, mask, confident, none]);
});

test('BCE and CE: label maps and dense targets give the same loss; focal with gamma 0 is BCE / CE', () => {
  tidy(() => {
    manualSeed(1);
    const binLogits = randn([2, 1, 4, 5]);
    const binMask = randint(0, 2, [2, 4, 5], { dtype: 'uint8' });
    const viaLabels = bceLoss(binLogits, binMask).item();
    close(viaLabels, bceLoss(binLogits, binMask.unsqueeze(1).float()).item(), 1e-7, 'bce dense');
    close(focalLoss(binLogits, binMask, { gamma: 0 }).item(), viaLabels, 1e-6, 'focal γ=0 binary');
    const logits = randn([2, 3, 4, 5]);
    const labels = randint(0, 3, [2, 4, 5]);
    const ce = crossEntropyLoss(logits, labels).item();
    const oneHot = tensor([0, 1, 2]).reshape(1, 3, 1, 1).eq(labels.unsqueeze(1).float()).float();
    close(crossEntropyLoss(logits, oneHot).item(), ce, 1e-6, 'ce dense');
    close(focalLoss(logits, labels, { gamma: 0 }).item(), ce, 1e-6, 'focal γ=0 multi-class');
    // Uniform pixel weights of 2 double the loss.
    close(crossEntropyLoss(logits, labels, { pixelWeights: zeros([2, 4, 5]).add(2) }).item(), 2 * ce, 1e-6, 'weighted ce');
  });
});

test('boundaryDistance: chessboard distance to the nearest label change (hand values)', () => {
  // One row: 0 0 0 1 1 1 1 → boundary at x = 2 and 3 (both sides); radius 2 caps at 3.
  const row = tensor(new Uint8Array([0, 0, 0, 1, 1, 1, 1]), [1, 1, 7]);
  const d = boundaryDistance(row, 2);
  assert.deepEqual(d.toArray(), [2, 1, 0, 0, 1, 2, 3]);
  const w = boundaryWeights({ radius: 2, weight: 4, sigma: 1 })(row, zeros([1, 1, 1, 7]));
  const expected = [2, 1, 0, 0, 1, 2, 3].map((x) => (x <= 2 ? 1 + 4 * Math.exp(-(x * x) / 2) : 1));
  w.toArray().forEach((v, i) => close(v, expected[i]!, 1e-6, `w[${i}]`));
  // A constant label map has no boundary: every weight is 1.
  const flat = boundaryWeights()(zeros([1, 3, 3, 3], { dtype: 'uint8' }), zeros([1, 1, 3, 3, 3]));
  assert.ok(flat.toArray().every((v) => v === 1));
  dispose([row, d, w, flat]);
});

test('losses reject mismatched shapes and channel counts with clear messages', () => {
  const logits = zeros([2, 1, 4, 4]);
  assert.throws(() => softDiceLoss(logits, zeros([2, 5, 4])), /softDiceLoss: target shape \[2, 5, 4\] does not fit logits \[2, 1, 4, 4\]/);
  assert.throws(() => crossEntropyLoss(logits, zeros([2, 4, 4])), /one-channel \(binary\) logits need bceLoss/);
  assert.throws(() => bceLoss(zeros([2, 3, 4, 4]), zeros([2, 4, 4])), /bceLoss: expected one-channel logits/);
  assert.throws(() => diceBCELoss(zeros([2, 3, 4, 4]), zeros([2, 4, 4])), /use diceCELoss/);
  assert.throws(() => focalLoss(zeros([1, 3, 2, 2]), zeros([1, 2, 2]), { alpha: 0.25 }), /one alpha per class/);
  assert.throws(() => softDiceLoss(zeros([4]), zeros([4])), /expected logits \[N, C, \*spatial\]/);
  logits.dispose();
});

test('losses free every temporary tensor', () => {
  tidy(() => {
    const logits = randn([2, 3, 6, 6]);
    const labels = randint(0, 3, [2, 6, 6]);
    const before = memory().liveTensors;
    const terms = diceCELoss(logits, labels, { ce: { pixelWeights: boundaryWeights() } });
    focalLoss(logits, labels, { alpha: [0.2, 0.3, 0.5] }).dispose();
    assert.equal(memory().liveTensors, before + 3, 'only loss, dice and ce remain');
    dispose(terms);
  });
});

const TORCH_REFERENCE = String.raw`
def monai_dice(inp, tgt, sigmoid, include_bg, batch, smooth_nr=1e-5, smooth_dr=1e-5, squared=False):
    p = torch.sigmoid(inp) if sigmoid else torch.softmax(inp, 1)
    n = inp.shape[1]
    g = (tgt > 0).float().unsqueeze(1) if n == 1 else F.one_hot(tgt.long(), n).movedim(-1, 1).float()
    if not include_bg and n > 1:
        p, g = p[:, 1:], g[:, 1:]
    axes = list(range(2, inp.ndim))
    if batch:
        axes = [0] + axes
    inter = (p * g).sum(axes)
    den = (g * g).sum(axes) + (p * p).sum(axes) if squared else g.sum(axes) + p.sum(axes)
    return (1.0 - (2.0 * inter + smooth_nr) / (den + smooth_dr)).mean()

def sigmoid_focal(x, t, alpha, gamma):  # torchvision.ops.sigmoid_focal_loss
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction='none')
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss.mean()

def softmax_focal(x, y, alpha, gamma):  # Lin et al.: -alpha_y (1 - p_y)^gamma log p_y, mean over pixels
    logp = F.log_softmax(x, 1).gather(1, y.long().unsqueeze(1)).squeeze(1)
    return (-torch.tensor(alpha)[y.long()] * (1 - logp.exp()) ** gamma * logp).mean()

def chessboard(labels, radius):  # brute force: distance from every pixel to every boundary pixel
    n, h, w = labels.shape
    pad = F.pad(labels.float().unsqueeze(1), (1, 1, 1, 1), value=float('nan'))
    neigh = F.unfold(pad, 3).reshape(n, 9, h, w)
    differs = ((neigh != labels.float().unsqueeze(1)) & ~torch.isnan(neigh)).any(1)
    out = torch.full((n, h, w), float(radius + 1))
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    for b in range(n):
        pts = differs[b].nonzero()
        for (py, px) in pts.tolist():
            out[b] = torch.minimum(out[b], torch.maximum((ys - py).abs(), (xs - px).abs()).float())
    return out.clamp(max=radius + 1)

x1, m1, x3, m3, x5, m5 = IN['x1'], IN['m1'], IN['x3'], IN['m3'], IN['x5'], IN['m5']
OUT['dice_bin'] = monai_dice(x1, m1, True, True, False)
OUT['dice_bin_batch'] = monai_dice(x1, m1, True, True, True)
OUT['dice_mc'] = monai_dice(x3, m3, False, True, False)
OUT['dice_mc_nobg_batch'] = monai_dice(x3, m3, False, False, True)
OUT['dice_mc_sq'] = monai_dice(x3, m3, False, True, False, 1.0, 1.0, True)
OUT['dice_3d'] = monai_dice(x5, m5, False, False, False)
OUT['bce'] = F.binary_cross_entropy_with_logits(x1, (m1 > 0).float().unsqueeze(1), pos_weight=torch.tensor(3.0))
OUT['ce_w'] = F.cross_entropy(x3, m3.long(), weight=torch.tensor([0.2, 1.0, 2.0]))
OUT['focal_bin'] = sigmoid_focal(x1, (m1 > 0).float().unsqueeze(1), 0.25, 2.0)
OUT['focal_mc'] = softmax_focal(x3, m3, [0.25, 0.5, 1.0], 1.5)
OUT['dist'] = chessboard(m3, 2)
dc = monai_dice(x3, m3, False, True, False); ce = F.cross_entropy(x3, m3.long())
OUT['dice_ce'] = 0.7 * dc + 1.3 * ce
d = OUT['dist']
w = torch.where(d <= 2, 1 + 5 * torch.exp(-d * d / (2 * 1.0 ** 2)), torch.ones_like(d))
OUT['ce_boundary'] = (F.cross_entropy(x3, m3.long(), reduction='none') * w).mean()
`;

test('losses match the reference formulas computed in PyTorch', (t) => {
  if (skipWithoutTorch(t)) return;
  manualSeed(7);
  const inputs = tidy(() => ({
    x1: randn([3, 1, 6, 7]), m1: randint(0, 2, [3, 6, 7], { dtype: 'uint8' }),
    x3: randn([2, 3, 6, 7]), m3: randint(0, 3, [2, 6, 7], { dtype: 'uint8' }),
    x5: randn([2, 2, 3, 4, 5]), m5: randint(0, 2, [2, 3, 4, 5], { dtype: 'uint8' }),
  }));
  const { tensors: ref } = runTorch(TORCH_REFERENCE, { tensors: inputs });
  const r = (k: string): number => ref.get(k)!.item();
  const { x1, m1, x3, m3, x5, m5 } = inputs;
  tidy(() => {
    close(softDiceLoss(x1, m1).item(), r('dice_bin'), 1e-6, 'dice binary');
    close(softDiceLoss(x1, m1, { batch: true }).item(), r('dice_bin_batch'), 1e-6, 'dice binary batch');
    close(softDiceLoss(x3, m3).item(), r('dice_mc'), 1e-6, 'dice multi-class');
    close(softDiceLoss(x3, m3, { includeBackground: false, batch: true }).item(), r('dice_mc_nobg_batch'), 1e-6, 'dice no bg, batch');
    close(softDiceLoss(x3, m3, { smoothNr: 1, smoothDr: 1, squaredPred: true }).item(), r('dice_mc_sq'), 1e-6, 'dice squared');
    close(softDiceLoss(x5, m5, { includeBackground: false }).item(), r('dice_3d'), 1e-6, 'dice 3D');
    close(bceLoss(x1, m1, { posWeight: 3 }).item(), r('bce'), 1e-6, 'bce pos_weight');
    close(crossEntropyLoss(x3, m3, { classWeights: [0.2, 1, 2] }).item(), r('ce_w'), 1e-6, 'ce class weights');
    close(focalLoss(x1, m1, { alpha: 0.25 }).item(), r('focal_bin'), 1e-6, 'focal binary');
    close(focalLoss(x3, m3, { alpha: [0.25, 0.5, 1], gamma: 1.5 }).item(), r('focal_mc'), 1e-6, 'focal multi-class');
    assert.deepEqual(boundaryDistance(m3, 2).toArray(), ref.get('dist')!.toArray(), 'chessboard distance');
    close(diceCELoss(x3, m3, { lambdaDice: 0.7, lambdaCE: 1.3 }).loss.item(), r('dice_ce'), 1e-6, 'dice+ce');
    const weights = boundaryWeights({ radius: 2, weight: 5, sigma: 1 });
    close(crossEntropyLoss(x3, m3, { pixelWeights: weights }).item(), r('ce_boundary'), 1e-6, 'boundary-weighted ce');
  });
  dispose([inputs, [...ref.values()]]);
});
