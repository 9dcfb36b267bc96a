"""Data and metrics for bench/supervised/reference.py, with only the standard library, NumPy, PIL and torch.

Debian's /usr/bin/python3 here has python3-torch, python3-numpy and python3-pil, but no nibabel, scipy or
torchvision, so: 2D files decode with PIL (python3-pil), NIfTI-1 is read and written with gzip + struct below, and
HD95 is computed from boundary point sets by brute force in NumPy (no distance transform).

Conventions follow samtutor (src/data, src/metrics, ../shared/reference/metrics.md, "our default"):
- A volume array is [D, H, W] = the NIfTI voxel block read without transpose; spacing [pixdim3, pixdim2, pixdim1].
- 2D masks: JPEG masks (lossy) are thresholded at 128; other masks 0/1 kept, 0/255 -> 0/1.
- Boundary = X xor erode(X) with the cross element, outside counted as background; HD95 = max of the two directed
  95th percentiles (NumPy linear); Dice both empty = 1 / HD95 0; exactly one empty = Dice 0, HD95 undefined (None).
"""
import gzip
import os
import struct

import numpy as np
from PIL import Image

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
VOLUME_EXT = (".nii.gz", ".nii")
MASK_SUFFIXES = ("_segmentation", "_mask", "-mask", "_seg", "_label", "_gt")
NIFTI_DTYPES = {2: np.uint8, 256: np.int8, 4: np.int16, 512: np.uint16, 8: np.int32, 768: np.uint32, 1024: np.int64,
                16: np.float32, 64: np.float64}


def split_name(name):
    low = name.lower()
    for ext in VOLUME_EXT + IMAGE_EXT:
        if low.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], ext
    return None, None


def index_folder(folder, strip_suffixes=False):
    """stem (optionally minus a mask suffix) -> path, for every image/volume file in a folder."""
    out = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = split_name(name)
        if stem is None or name.startswith("."):
            continue
        if strip_suffixes:
            for s in MASK_SUFFIXES:
                if stem.lower().endswith(s):
                    stem = stem[: -len(s)]
                    break
        out[stem] = os.path.join(folder, name)
    return out


def dataset_pairs(root):
    """id -> (image path, mask path) for images/ + masks/ or MSD imagesTr/ + labelsTr/ (nnU-Net _0000 stripped)."""
    if os.path.isdir(os.path.join(root, "imagesTr")):
        images = {k[:-5] if k.endswith("_0000") else k: v for k, v in index_folder(os.path.join(root, "imagesTr")).items()}
        masks = index_folder(os.path.join(root, "labelsTr"))
    else:
        images = index_folder(os.path.join(root, "images"))
        masks = index_folder(os.path.join(root, "masks"), strip_suffixes=True)
    return {k: (images[k], masks[k]) for k in images if k in masks}


# ---- 2D ----

def read_image(path):
    """uint8 [H, W, C]: grey files keep 1 channel, colour 3 (alpha dropped), as samtutor's channels 'auto'.
    PIL's JPEG decoding was checked bit-identical to samtutor's (libvips) on Kvasir images."""
    with Image.open(path) as im:
        if im.mode in ("L", "LA", "I", "I;16", "1"):
            return np.asarray(im.convert("L"))[:, :, None]
        return np.asarray(im.convert("RGB"))


def read_mask2d(path):
    with Image.open(path) as im:
        a = np.asarray(im.convert("L") if im.mode not in ("L", "I;16", "I") else im).astype(np.int64)
    if path.lower().endswith((".jpg", ".jpeg", ".webp")):
        return (a >= 128).astype(np.uint8)
    if a.max() <= 1:
        return a.astype(np.uint8)
    if np.isin(a, (0, 255)).all():
        return (a == 255).astype(np.uint8)
    return a.astype(np.uint8)


def write_mask2d(path, mask):
    """0/255 PNG for binary masks (as samtutor predict writes them), label indices otherwise."""
    m = mask.astype(np.uint8)
    Image.fromarray(m * 255 if m.max() <= 1 else m, mode="L").save(path)


# ---- NIfTI-1 (little- or big-endian, .nii or .nii.gz) ----

def _raw(path):
    with open(path, "rb") as f:
        b = f.read()
    return gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b


def read_nifti(path):
    """(array [D, H, W] as stored (scl_slope applied), spacing [dz, dy, dx], header bytes)."""
    b = _raw(path)
    e = "<" if struct.unpack("<i", b[:4])[0] == 348 else ">"
    if struct.unpack(e + "i", b[:4])[0] != 348:
        raise ValueError(f"{path}: not a NIfTI-1 file")
    dim = struct.unpack(e + "8h", b[40:56])
    code = struct.unpack(e + "h", b[70:72])[0]
    pixdim = struct.unpack(e + "8f", b[76:108])
    offset = int(struct.unpack(e + "f", b[108:112])[0])
    slope, inter = struct.unpack(e + "2f", b[112:120])
    dims = [max(d, 1) for d in dim[1:4]]
    dt = np.dtype(NIFTI_DTYPES[code]).newbyteorder(e)
    n = dims[0] * dims[1] * dims[2]
    a = np.frombuffer(b, dtype=dt, count=n, offset=offset).reshape(dims[::-1]).astype(NIFTI_DTYPES[code])
    if slope not in (0.0, 1.0) or inter != 0.0:
        a = a.astype(np.float32) * slope + inter
    spacing = [abs(pixdim[3]) or 1.0, abs(pixdim[2]) or 1.0, abs(pixdim[1]) or 1.0]
    return a, spacing, b[:348] if e == "<" else None


def write_nifti_like(path, labels, header):
    """A uint8 label volume [D, H, W] with the geometry of a little-endian NIfTI-1 header (from read_nifti)."""
    if header is None:
        raise ValueError("write_nifti_like needs a little-endian source header")
    h = bytearray(header)
    struct.pack_into("<hh", h, 70, 2, 8)  # datatype uint8, bitpix 8
    struct.pack_into("<fff", h, 108, 352.0, 1.0, 0.0)  # vox_offset, scl_slope, scl_inter
    body = bytes(h) + b"\0\0\0\0" + np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(body, 6) if path.endswith(".gz") else body)


# ---- data order: samtutor's seededShuffle (src/data/split.ts), bit for bit ----

def mulberry32(seed):
    a = seed & 0xFFFFFFFF

    def rand():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0
    return rand


def _imul(a, b):
    return (a * b) & 0xFFFFFFFF


def seeded_shuffle(items, seed):
    out = list(items)
    rand = mulberry32(seed)
    for i in range(len(out) - 1, 0, -1):
        j = int(rand() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


# ---- metrics (samtutor's default convention) ----

def boundary_points(x, spacing):
    """Physical coordinates [N, ndim] of X xor erode(X) (cross element, outside = background)."""
    p = np.pad(x, 1)
    core = p[tuple(slice(1, -1) for _ in x.shape)]
    er = core.copy()
    for ax in range(x.ndim):
        for sh in (0, 2):
            sl = [slice(1, -1)] * x.ndim
            sl[ax] = slice(sh, sh + x.shape[ax])
            er &= p[tuple(sl)]
    return np.argwhere(core & ~er).astype(np.float64) * np.asarray(spacing, dtype=np.float64)


def _directed(a, b, chunk=2048):
    out = np.empty(len(a))
    for i in range(0, len(a), chunk):
        d = ((a[i:i + chunk, None, :] - b[None, :, :]) ** 2).sum(-1)
        out[i:i + chunk] = np.sqrt(d.min(1))
    return out


def dice_hd95(pred, gt, spacing):
    """(Dice, HD95) of two boolean masks; HD95 None when exactly one is empty."""
    p, g = pred.astype(bool), gt.astype(bool)
    sp, sg = int(p.sum()), int(g.sum())
    if sp == 0 and sg == 0:
        return 1.0, 0.0
    dice = 2.0 * int((p & g).sum()) / (sp + sg)
    if sp == 0 or sg == 0:
        return dice, None
    bp, bg = boundary_points(p, spacing), boundary_points(g, spacing)
    return dice, float(max(np.percentile(_directed(bp, bg), 95), np.percentile(_directed(bg, bp), 95)))
