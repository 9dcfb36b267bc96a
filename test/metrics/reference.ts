// An independent implementation of the default convention (and a few named alternatives) in Python, written
// from the definitions in ../shared/reference/metrics.md and run at test time with /usr/bin/python3. It uses
// scipy.ndimage (binary_erosion + distance_transform_edt, as MedPy/MONAI/DeepMind do) when importable, otherwise
// NumPy brute force. It works on the whole image (no cropping), finds boundaries and DeepMind vertex codes its own
// way, and shares nothing with src/metrics except the 3D surfel-area table, which is passed in (that table is
// checked against DeepMind's separately, in surfels.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PYTHON } from '../helpers/torchRef.ts';


const SCRIPT = String.raw`
import sys, json, math
import numpy as np
try:
    from scipy import ndimage
except Exception:
    ndimage = None

def erode(x):
    if ndimage is not None:
        return ndimage.binary_erosion(x, ndimage.generate_binary_structure(x.ndim, 1), border_value=0)
    p = np.pad(x, 1)
    out = x.copy()
    for ax in range(x.ndim):
        for sh in (0, 2):
            out &= p[tuple(slice(sh, sh + x.shape[a]) if a == ax else slice(1, 1 + x.shape[a]) for a in range(x.ndim))]
    return out

def brute(a_pts, b_pts, sp):
    if len(b_pts) == 0:
        return np.full(len(a_pts), np.inf)
    out = np.empty(len(a_pts))
    for s in range(0, len(a_pts), 512):
        a = a_pts[s:s + 512]
        d2 = 0
        for k in range(len(sp)):
            t = (b_pts[None, :, k] - a[:, None, k]).astype(np.float64) * sp[k]
            d2 = d2 + t * t
        out[s:s + 512] = np.sqrt(d2.min(1))
    return out

def dists(a, b, sp):
    # distance from each true element of grid a to the nearest true element of grid b, in a's row-major order
    if ndimage is not None:
        if not b.any():
            return np.full(int(a.sum()), np.inf)
        return ndimage.distance_transform_edt(~b, sampling=sp)[a]
    return brute(np.argwhere(a), np.argwhere(b), sp)

def perc(v, q):
    return float(np.percentile(v, q))

def contour_table(sp):
    t = np.zeros(16)
    diag = 0.5 * math.sqrt(sp[0] ** 2 + sp[1] ** 2)
    for c in range(16):
        bits = [(c >> 3) & 1, (c >> 2) & 1, (c >> 1) & 1, c & 1]  # TL TR BL BR
        n = sum(bits)
        if n in (1, 3): t[c] = diag
        elif n == 2:
            if bits[0] == bits[1]: t[c] = sp[1]      # top pair or bottom pair: a horizontal edge
            elif bits[0] == bits[2]: t[c] = sp[0]    # left or right pair: a vertical edge
            else: t[c] = 2 * diag                    # diagonal pair
    return t

def surfels(P, G, sp, table3d):
    # DeepMind vertex grid on the whole image embedded in zeros: vertex v between pixels v-1 and v
    nd = P.ndim
    table = contour_table(sp) if nd == 2 else np.array(table3d)
    full = 15 if nd == 2 else 255
    def codes(M):
        Q = np.pad(M.astype(np.int64), 1)
        out = np.zeros([s + 1 for s in M.shape], np.int64)
        for i in range(2 ** nd):
            offs = [(i >> (nd - 1 - d)) & 1 for d in range(nd)]
            w = 2 ** (2 ** nd - 1 - i)
            out += w * Q[tuple(slice(o, o + s + 1) for o, s in zip(offs, M.shape))]
        return out
    cP, cG = codes(P), codes(G)
    bP, bG = (cP != 0) & (cP != full), (cG != 0) & (cG != full)
    return dists(bP, bG, sp), table[cP[bP]], dists(bG, bP, sp), table[cG[bG]]

def dm_robust(d, a, q):
    if len(d) == 0: return math.inf
    order = np.argsort(d, kind='stable')
    d, a = d[order], a[order]
    cum = np.cumsum(a) / np.sum(a)
    idx = np.searchsorted(cum, q / 100.0)
    return float(d[min(idx, len(d) - 1)])

def score(P, G, sp, tol, table3d):
    tp = int((P & G).sum()); nP = int(P.sum()); nG = int(G.sum())
    r = {'dice': None, 'iou': None, 'hd': None, 'hd95': None, 'assd': None, 'nsd': None,
         'precision': None, 'recall': None}
    if nP == 0 and nG == 0:
        r.update(dice=1.0, iou=1.0, hd=0.0, hd95=0.0, assd=0.0, nsd=1.0, precision=1.0, recall=1.0)
        return r
    r['dice'] = 2 * tp / (nP + nG)
    r['iou'] = tp / (nP + nG - tp)
    r['precision'] = tp / nP if nP else 0.0
    r['recall'] = tp / nG if nG else 0.0
    if nP == 0 or nG == 0:
        return r
    bP, bG = P & ~erode(P), G & ~erode(G)
    dPG, dGP = dists(bP, bG, sp), dists(bG, bP, sp)
    both = np.concatenate([dPG, dGP])
    r['hd'] = float(max(dPG.max(), dGP.max()))
    r['hd95'] = max(perc(dPG, 95), perc(dGP, 95))
    r['assd'] = float(both.mean())
    sdP, saP, sdG, saG = surfels(P, G, sp, table3d)
    r['nsd'] = float((saG[sdG <= tol].sum() + saP[sdP <= tol].sum()) / (saG.sum() + saP.sum()))
    # named alternatives
    r['medpy_hd95'] = perc(both, 95)
    r['monai_asd'] = float(dPG.mean())
    r['px_nsd'] = float(((dPG <= tol).sum() + (dGP <= tol).sum()) / (len(dPG) + len(dGP)))
    r['dm_hd95'] = max(dm_robust(sdG, saG, 95), dm_robust(sdP, saP, 95))
    r['dm_assd'] = float(((sdG * saG).sum() / saG.sum() + (sdP * saP).sum() / saP.sum()) / 2)
    return r

out = []
for case in json.load(sys.stdin):
    shape = case['shape']
    pred = np.array(case['pred'], np.int64).reshape(shape)
    gt = np.array(case['gt'], np.int64).reshape(shape)
    res = []
    for label in case['labels']:
        res.append(score(pred == label, gt == label, [float(s) for s in case['spacing']], case['tolerance'], case.get('table3d')))
    out.append(res)
print(json.dumps({'scipy': ndimage is not None, 'results': out}))
`;

export interface ReferenceCase {
  shape: number[];
  pred: number[];
  gt: number[];
  spacing: number[];
  labels: number[];
  tolerance: number;
  table3d?: number[];
}

export type ReferenceValues = Record<string, number | null>;

/** Why the reference cannot run here, or null when it can. */
export function referenceUnavailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `numpy is not importable by ${PYTHON}`;
}

/** Runs the reference on a batch of cases: per case, per label, a record of values (null = undefined). */
export function runReference(cases: ReferenceCase[]): { scipy: boolean; results: ReferenceValues[][] } {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { scipy: boolean; results: ReferenceValues[][] };
}

export { PYTHON };
