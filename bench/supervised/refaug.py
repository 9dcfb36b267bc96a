"""samtutor's random data pipeline and sliding-window inference, mirrored in PyTorch for reference.py.

Both sides run the same libtorch (1.13), so torch.Generator draws equal samtutor's Generator draws. With the same
seeds (samtutor's trainer: manual_seed(seed) for the weights, Generator(seed + 1) for the data order and 3D patch
positions, Generator(seed + 2) for augmentation) these functions reproduce, draw for draw:
  - src/methods/batches.ts epochOrder: `count` indices from consecutive randperm(n) calls;
  - src/data/transforms/patch.ts samplePatchStart / extractPatch (3 + n uniform draws per patch, foreground
    oversampling with the class chosen first, zero padding);
  - src/data/transforms/presets.ts weakAugment = RandFlip(p 0.5 per axis) then RandAffine(p 0.5, rotation ±10°
    about every axis, isotropic zoom 0.95-1.05, shift ±6.25 % per side; bilinear image, nearest labels, zeros);
  - src/data/transforms/slidingWindow.ts slidingWindowInference (Gaussian σ = 0.125·roi, MONAI window starts).
Remaining differences are numeric only (JPEG decoding by PIL here and libvips there; float summation order).
"""
import itertools
import math

import torch
import torch.nn.functional as F


def uniforms(g, n):
    return torch.rand(n, generator=g, dtype=torch.float64).tolist() if n else []


def pick_index(u, n):
    return min(n - 1, math.floor(u * n))


def in_range(u, r):
    return r[0] + u * (r[1] - r[0])


def epoch_order(n, count, g):
    order = []
    while len(order) < count:
        order += torch.randperm(n, generator=g).tolist()
    return order[:count]


# ---- weak augmentation ----

def _matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def _rotation(rank, angles):
    a, b, c = (list(angles) + [0.0, 0.0, 0.0])[:3]
    if rank == 2:
        return [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    rx = [[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]]
    ry = [[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]]
    rz = [[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]]
    return _matmul(rz, _matmul(ry, rx))


def affine_theta(size, rotate, scale, shift):
    """spatial.ts affineTheta: output → input map for content moved by R·S·u + shift (pixels about the centre)."""
    half = [s / 2 for s in reversed(size)]
    rt = [list(r) for r in zip(*_rotation(len(size), rotate))]
    inv = _matmul([[1 / scale[i] if i == j else 0 for j in range(len(half))] for i in range(len(half))], rt)
    return [[v * half[j] / half[i] for j, v in enumerate(row)] + [-sum(v * shift[j] for j, v in enumerate(row)) / half[i]]
            for i, row in enumerate(inv)]


def rand_flip(img, mask, g, p=0.5):
    u = uniforms(g, img.dim() - 1)
    dims = [i + 1 for i in range(img.dim() - 1) if u[i] < p]
    return (img.flip(dims), mask.flip(dims)) if dims else (img, mask)


def rand_affine(img, mask, g, p=0.5, rotate=10.0, scale=(0.95, 1.05), shift=0.0625):
    u = uniforms(g, 10)
    if u[0] >= p:
        return img, mask
    size = list(img.shape[1:])
    n = len(size)
    angles = [in_range(u[1 + i], (-rotate, rotate)) * math.pi / 180 for i in range(1 if n == 2 else 3)]
    zoom = [in_range(u[4], scale)] * n
    moves = [(2 * u[7 + i] - 1) * shift * s for i, s in enumerate(reversed(size))]
    theta = torch.tensor(affine_theta(size, angles, zoom, moves), dtype=torch.float32)[None]
    grid = F.affine_grid(theta, [1, 1] + size, align_corners=False)
    out = F.grid_sample(img[None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    lab = F.grid_sample(mask[None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)[0]
    return out, lab.round().to(mask.dtype)


def weak_augment(img, mask, g):
    """img [C, ...] float32, mask [1, ...] uint8 → both augmented (presets.ts weakAugment)."""
    img, mask = rand_flip(img, mask, g)
    return rand_affine(img, mask, g)


# ---- 3D patches ----

def sample_patch(vol, lab, size, g, fg_prob):
    """patch.ts samplePatch: vol [C, D, H, W] float, lab [D, H, W] uint8 → patches [C, *size], [*size]."""
    full = list(lab.shape)
    u = uniforms(g, 3 + len(full))
    lo = [min(0, s - p) for s, p in zip(full, size)]
    hi = [max(0, s - p) for s, p in zip(full, size)]
    voxel = None
    if u[0] < fg_prob:
        present = [int(v) for v in torch.unique(lab).tolist() if v > 0]
        if present:
            loc = torch.nonzero(lab == present[pick_index(u[1], len(present))])
            voxel = loc[pick_index(u[2], len(loc))].tolist()
    if voxel is not None:
        start = [min(h, max(lw, v - p // 2)) for v, p, lw, h in zip(voxel, size, lo, hi)]
    else:
        start = [lw + pick_index(u[3 + d], h - lw + 1) for d, (lw, h) in enumerate(zip(lo, hi))]
    return _extract(vol, start, size), _extract(lab[None], start, size)[0]


def _extract(x, start, size):
    v, pads = x, []
    for d, s in enumerate(x.shape[1:]):
        a, b = max(0, start[d]), min(s, start[d] + size[d])
        v = v.narrow(d + 1, a, b - a)
        pads = [a - start[d], start[d] + size[d] - b] + pads
    return F.pad(v, pads) if any(pads) else v.clone()


# ---- sliding windows ----

def importance_map(roi, sigma_scale=0.125):
    m = None
    for d, n in enumerate(roi):
        sigma = sigma_scale * n
        gd = ((torch.arange(n, dtype=torch.float32) - (n - 1) / 2) ** 2 / (-2 * sigma * sigma)).exp()
        gd = gd.reshape([n if i == d else 1 for i in range(len(roi))])
        m = gd if m is None else m * gd
    m = m.expand(*roi).contiguous()
    return m.clamp(min=max(m.min().item(), 1e-3))


def window_starts(size, roi, overlap):
    interval = roi if roi == size else max(1, math.floor(roi * (1 - overlap)))
    starts, i = [], 0
    while True:
        s = i * interval
        starts.append(min(s, size - roi))
        if s + roi >= size:
            return starts
        i += 1


def sliding_window(x, predictor, roi, overlap=0.5, batch_size=2):
    """x [B, C, ...] → blended float logits [B, C', ...] (inputs smaller than roi are zero-padded, then cropped)."""
    size, n = list(x.shape[2:]), len(roi)
    before = [max(r - s, 0) // 2 for s, r in zip(size, roi)]
    padded = [max(s, r) for s, r in zip(size, roi)]
    pads = []
    for d in reversed(range(n)):
        pads += [before[d], padded[d] - size[d] - before[d]]
    src = F.pad(x, pads) if any(pads) else x
    windows = list(itertools.product(*[window_starts(padded[d], roi[d], overlap) for d in range(n)]))
    weights = importance_map(roi)
    sl = lambda st: tuple(slice(s, s + r) for s, r in zip(st, roi))  # noqa: E731
    out = weight = None
    for b in range(x.shape[0]):
        for w0 in range(0, len(windows), batch_size):
            chunk = windows[w0:w0 + batch_size]
            pred = predictor(torch.cat([src[b:b + 1][(slice(None), slice(None)) + sl(st)] for st in chunk], 0))
            if out is None:
                out = torch.zeros([x.shape[0], pred.shape[1]] + padded, dtype=pred.dtype)
                weight = torch.zeros([1, 1] + padded, dtype=pred.dtype)
            weighted = pred * weights
            for i, st in enumerate(chunk):
                out[b:b + 1][(slice(None), slice(None)) + sl(st)] += weighted[i:i + 1]
                if b == 0:
                    weight[(slice(None), slice(None)) + sl(st)] += weights
    res = out / weight
    return res[(slice(None), slice(None)) + tuple(slice(s, s + d) for s, d in zip(before, size))].contiguous()
