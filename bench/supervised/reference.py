"""PyTorch reference of `samtutor train --method supervised` for bench/supervised (run by run.ts; usable alone).

It mirrors src/methods (trainer.ts, batches.ts, cache.ts, preprocess.ts, loss.ts, optimizers.ts, validation.ts,
inference.ts) with the same libtorch: weights from manual_seed(seed) + build_unet(config) (bench/engine/
reference_unet.py, identical parameter names and init), data order and patches from Generator(seed + 1),
augmentation from Generator(seed + 2) (refaug.py reproduces samtutor's draws), on the train ids of samtutor's
split.json ({seed, train, val, test?}; ids are file stems / case ids). Recipe flags carry the values of samtutor's
resolved <run-dir>/config.json (run.ts maps them):
  2D: antialiased bilinear stretch to --size, 'unit' ([0, 1], stored as uint8) or per-channel 'zscore'; masks
      nearest. 3D: per-case, per-channel z-score at the native grid; --patch crops with --fg-prob oversampling.
  Loss soft Dice (MONAI, per image, smooth 1e-5, background excluded unless --dice-include-bg) + BCE (one logit
  channel) or CE; AdamW/Adam; poly lr·(1 − step/(epochs·iterations))^0.9 per step; --augment weak|none;
  bf16 autocast for forward passes (--bf16); --time-budget minutes of epoch wall time (training + validation),
  checked after each epoch; best weights by validation Dice (2D at the model size, 3D by sliding windows).
Held-out cases (test when non-empty, else val) are predicted as `samtutor predict` does (2D probabilities resized
back bilinearly, > 0.5; 3D Gaussian sliding windows, argmax), timed end to end per precision (decode, preprocess,
forward, write), written to --pred-out/<precision>/ for `samtutor evaluate`, and scored here too (refdata.py).

Output, JSON lines on stdout: {"event": "config"}, {"event": "epoch"} per epoch (loss, val_dice, training_s,
images_per_s, lr) and {"event": "final"} (dice, hd95: mean over labels; time_to_best_s; train_images_per_s =
images / seconds inside the training loops; infer.<precision>.infer_images_per_s).

  /usr/bin/python3 bench/supervised/reference.py --data ../shared/data/polyp-kvasir-256 --dims 2 \\
      --split <run-dir>/split.json --size 64 --batch 8 --epochs 1 --limit 32 --limit-heldout 8
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "engine"), HERE]
from reference_unet import build_unet  # noqa: E402
import refaug  # noqa: E402
import refdata  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a = p.add_argument
    a("--data", required=True)
    a("--dims", type=int, choices=(2, 3), required=True)
    a("--split", help="samtutor split.json (default: seeded 80/10/10 of the sorted ids)")
    a("--model-config", help="U-Net config JSON (samtutor's resolved config.model); default from --widths")
    a("--widths", default="16,32,64,128")
    a("--size", type=int, default=256, help="2D input side")
    a("--patch", help="3D patch D,H,W (default: median case shape rounded up to the U-Net multiple, <= 128)")
    a("--fg-prob", type=float, default=0.33)
    a("--overlap", type=float, default=0.5)
    a("--batch", type=int, default=None, help="default 8 (2D) / 2 (3D)")
    a("--iters-per-epoch", type=int, default=None, help="default floor(train cases / batch)")
    a("--lr", type=float, default=1e-3)
    a("--optimizer", choices=("adamw", "adam"), default="adamw")
    a("--wd", type=float, default=1e-4)
    a("--epochs", type=int, default=50)
    a("--time-budget", type=float, default=0, help="minutes (0 = none)")
    a("--bf16", action="store_true")
    a("--augment", choices=("weak", "none"), default="weak")
    a("--norm", choices=("unit", "zscore"), default="unit", help="2D normalisation (3D is always zscore)")
    a("--dice-include-bg", action="store_true")
    a("--seed", type=int, default=0)
    a("--threads", type=int, default=os.cpu_count())
    a("--val-every", type=int, default=1)
    a("--infer-precisions", default="fp32,bf16", help="held-out passes to time ('none' skips them)")
    a("--pred-out", help="write held-out masks to <dir>/<precision>/")
    a("--limit", type=int, default=0, help="only the first N train / val ids (smoke runs)")
    a("--limit-heldout", type=int, default=0)
    return p.parse_args()


def emit(**kv):
    print(json.dumps(kv), flush=True)


def zscore(x):
    """Per channel, std without Bessel correction, floor 1e-8 (src/data/transforms zscore channelWise)."""
    dims = tuple(range(1, x.dim()))
    return (x - x.mean(dims, keepdim=True)) / x.std(dims, unbiased=False, keepdim=True).clamp_min(1e-8)


class Cases:
    """Decoded, preprocessed cases: 2D stored inputs [N, C, S, S] + masks [N, S, S]; 3D lists of volumes and labels."""

    def __init__(self, a, pairs, ids):
        self.a, self.pairs, self.ids = a, pairs, list(ids)
        items = [self.load(i) for i in self.ids]
        if a.dims == 2:
            self.x = torch.stack([x for x, _, _ in items]) if items else None
            self.y = torch.stack([y for _, y, _ in items]) if items else None
        else:
            self.x, self.y, self.spacing = [x for x, _, _ in items], [y for _, y, _ in items], [s for _, _, s in items]

    def load(self, i):
        img, lab, spacing, _ = read_case(self.a, self.pairs[i])
        if self.a.dims == 2:
            x = prep_2d(self.a, img)
            y = F.interpolate(lab[None, None].float(), size=(self.a.size,) * 2, mode="nearest")[0, 0].round().to(torch.uint8)
            return x, y, spacing
        return prep_3d(img), lab.to(torch.uint8), spacing

    def model_input(self, idx):
        x = self.x[idx]
        return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def read_case(a, pair):
    """(raw image [C, ...] float32, label map (int64), spacing, NIfTI label header or None)."""
    ip, mp = pair
    if a.dims == 2:
        img = refdata.read_image(ip)
        return torch.from_numpy(np.array(img)).permute(2, 0, 1).float(), torch.from_numpy(refdata.read_mask2d(mp).astype(np.int64)), [1.0, 1.0], None
    img, _, _ = refdata.read_nifti(ip)
    lab, spacing, header = refdata.read_nifti(mp)
    return torch.from_numpy(np.array(img, dtype=np.float32))[None], torch.from_numpy(lab.astype(np.int64)), spacing, header


def prep_2d(a, img):
    r = F.interpolate(img[None], size=(a.size,) * 2, mode="bilinear", align_corners=False, antialias=True)[0]
    if a.norm == "zscore":
        return zscore(r)
    return (r / 255).mul(255).round().clamp(0, 255).to(torch.uint8)  # 'unit' stored as uint8 (preprocess.ts)


def prep_3d(img):
    return zscore(img)


def loss_fn(a, logits, y):
    """loss.ts dice-ce: softDiceLoss (per image and channel) + BCE (one channel) or CE."""
    dims = tuple(range(2, logits.dim()))
    if logits.shape[1] == 1:
        g = (y > 0).float()[:, None]
        p, ce = torch.sigmoid(logits), F.binary_cross_entropy_with_logits(logits, g)
    else:
        g = F.one_hot(y.long(), logits.shape[1]).movedim(-1, 1).float()
        p, ce = torch.softmax(logits, 1), F.cross_entropy(logits, y.long())
    dice = 1 - (2 * (p * g).sum(dims) + 1e-5) / (g.sum(dims) + p.sum(dims) + 1e-5)
    if logits.shape[1] > 1 and not a.dice_include_bg:
        dice = dice[:, 1:]
    return dice.mean() + ce


def logits_of(a, model, x, patch, bf16):
    """Float logits [B, C', ...]: one forward (2D) or Gaussian sliding windows of the patch size (3D)."""
    def fwd(t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(t).float()
    with torch.inference_mode():
        return fwd(x) if a.dims == 2 else refaug.sliding_window(x, fwd, patch, a.overlap, batch_size=2)


def labels_of(logits):
    return (torch.sigmoid(logits[:, 0]) > 0.5).to(torch.uint8) if logits.shape[1] == 1 else torch.softmax(logits, 1).argmax(1).to(torch.uint8)


def dice(p, g):
    s = int(p.sum()) + int(g.sum())
    return 1.0 if s == 0 else 2.0 * int((p & g).sum()) / s


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def validate(a, model, val, classes, patch, batch):
    """validation.ts: per case the mean Dice over foreground labels at the model frame; the mean over cases."""
    model.eval()
    scores = []
    step = batch if a.dims == 2 else 1
    for s in range(0, len(val.ids), step):
        idx = list(range(s, min(s + step, len(val.ids))))
        x = val.model_input(idx) if a.dims == 2 else val.x[s][None]
        gt = val.y[idx] if a.dims == 2 else val.y[s][None]
        pred = labels_of(logits_of(a, model, x, patch, a.bf16))
        scores += [mean([dice(pred[i] == c, gt[i] == c) for c in range(1, classes)]) for i in range(len(pred))]
    return mean(scores)


def auto_patch(shapes, multiple):
    med = [sorted(s[d] for s in shapes)[(len(shapes) - 1) // 2] for d in range(3)]
    return [min(max(multiple, -(-m // multiple) * multiple), max(multiple, 128 // multiple * multiple)) for m in med]


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    pairs = refdata.dataset_pairs(a.data)
    if a.split:
        with open(a.split) as f:
            split = json.load(f)
    else:
        ids = refdata.seeded_shuffle(sorted(pairs), a.seed)
        n = len(ids)
        split = {"train": ids[: n - 2 * (n // 10)], "val": ids[n - 2 * (n // 10): n - n // 10], "test": ids[n - n // 10:]}
    lim = (lambda xs, n: xs[:n] if n else xs)
    train_ids, val_ids = lim(split["train"], a.limit), lim(split["val"], a.limit)
    heldout = lim(split.get("test") or split["val"], a.limit_heldout)
    a.batch = a.batch or (8 if a.dims == 2 else 2)
    t0 = time.perf_counter()
    train, val = Cases(a, pairs, train_ids), Cases(a, pairs, val_ids)
    labels = train.y if a.dims == 2 else torch.cat([y.flatten() for y in train.y])
    classes = max(int(labels.max()), 1) + 1
    config = json.loads(a.model_config) if a.model_config else {
        "arch": "unet", "spatialDims": a.dims, "inChannels": int(train.x.shape[1]) if a.dims == 2 else int(train.x[0].shape[0]), "outChannels": 1 if classes == 2 else classes,
        "widths": [int(w) for w in a.widths.split(",")]}
    multiple = 2 ** (len(config["widths"]) - 1)
    patch = None if a.dims == 2 else ([int(v) for v in a.patch.split(",")] if a.patch else auto_patch([list(y.shape) for y in train.y], multiple))
    torch.manual_seed(a.seed)
    model = build_unet(config)
    opt = (torch.optim.AdamW if a.optimizer == "adamw" else torch.optim.Adam)(model.parameters(), lr=a.lr, weight_decay=a.wd)
    data_g, aug_g = torch.Generator().manual_seed(a.seed + 1), torch.Generator().manual_seed(a.seed + 2)
    iters = a.iters_per_epoch or max(1, len(train.ids) // a.batch)
    total = a.epochs * iters
    emit(event="config", torch=torch.__version__, threads=torch.get_num_threads(), config=config, patch=patch, classes=classes,
         train=len(train.ids), val=len(val.ids), heldout=len(heldout), iterations=iters, cache_s=round(time.perf_counter() - t0, 2), recipe=vars(a))
    session, training_s, loop_s, images, step = time.perf_counter(), 0.0, 0.0, 0, 0
    best, best_state, best_t = None, None, 0.0
    for epoch in range(a.epochs):
        started = time.perf_counter()
        model.train()
        order = refaug.epoch_order(len(train.ids), iters * a.batch, data_g)
        losses = []
        for it in range(iters):
            idx = order[it * a.batch:(it + 1) * a.batch]
            if a.dims == 2:
                x, y = train.model_input(idx), train.y[idx]
            else:
                pairs3 = [refaug.sample_patch(train.x[i], train.y[i], patch, data_g, a.fg_prob) for i in idx]
                x, y = torch.stack([p for p, _ in pairs3]), torch.stack([m for _, m in pairs3])
            if a.augment == "weak":
                aug = [refaug.weak_augment(x[i], y[i][None], aug_g) for i in range(len(idx))]
                x, y = torch.stack([v for v, _ in aug]), torch.stack([m[0] for _, m in aug])
            for group in opt.param_groups:
                group["lr"] = a.lr * (1 - min(step, total) / total) ** 0.9
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits = model(x)
            loss = loss_fn(a, logits.float(), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        epoch_loop = time.perf_counter() - started
        loop_s, images = loop_s + epoch_loop, images + iters * a.batch
        val_dice = None
        if val.ids and ((epoch + 1) % a.val_every == 0 or epoch + 1 == a.epochs):
            val_dice = validate(a, model, val, classes, patch, a.batch)
        training_s += time.perf_counter() - started
        if val_dice is not None and (best is None or val_dice > best):
            best, best_t, best_state = val_dice, training_s, copy.deepcopy(model.state_dict())
        emit(event="epoch", epoch=epoch + 1, step=step, loss=mean(losses), val_dice=val_dice, training_s=round(training_s, 2),
             images_per_s=iters * a.batch / epoch_loop, lr=a.lr * (1 - min(step, total) / total) ** 0.9)
        if a.time_budget and (time.perf_counter() - session) / 60 >= a.time_budget:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    final = {"event": "final", "epochs": epoch + 1, "steps": step, "training_s": round(training_s, 2), "train_images_per_s": images / loop_s,
             "time_to_best_s": round(best_t if best_state is not None else training_s, 2), "best_val_dice": best,
             "precision": "bf16" if a.bf16 else "fp32", "infer": {}}
    for prec in [p for p in a.infer_precisions.split(",") if p in ("fp32", "bf16")]:
        final["infer"][prec] = infer(a, model, pairs, heldout, classes, patch, prec)
    if final["infer"]:
        main_prec = final["precision"] if final["precision"] in final["infer"] else next(iter(final["infer"]))
        final.update({k: final["infer"][main_prec][k] for k in ("dice", "hd95", "per_label")})
    emit(**final)


def infer(a, model, pairs, ids, classes, patch, prec):
    """Held-out pass as `samtutor predict`: decode, preprocess, forward, write (timed), then Dice / HD95 per label."""
    model.eval()
    bf16 = prec == "bf16"
    out_dir = os.path.join(a.pred_out, prec) if a.pred_out else None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)

    def predict(i):
        img, lab, spacing, header = read_case(a, pairs[i])
        if a.dims == 2:
            x = prep_2d(a, img)
            x = (x.float() / 255 if x.dtype == torch.uint8 else x)[None]
            probs = torch.sigmoid(logits_of(a, model, x, patch, bf16))
            probs = F.interpolate(probs, size=tuple(lab.shape), mode="bilinear", align_corners=False)
            pred = (probs[0, 0] > 0.5).to(torch.uint8)
        else:
            pred = labels_of(logits_of(a, model, prep_3d(img)[None], patch, bf16))[0]
        return pred.numpy(), lab.numpy(), spacing, header

    predict(ids[0])  # warm-up (first-call kernel selection), untimed
    results, t0 = {}, time.perf_counter()
    for i in ids:
        pred, lab, spacing, header = results[i] = predict(i)
        if out_dir and a.dims == 2:
            refdata.write_mask2d(os.path.join(out_dir, f"{i}.png"), pred)
        elif out_dir:
            refdata.write_nifti_like(os.path.join(out_dir, f"{i}.nii.gz"), pred, header)
    seconds = time.perf_counter() - t0
    per_label = {}
    for c in range(1, classes):
        s = [refdata.dice_hd95(p == c, g == c, sp) for p, g, sp, _ in results.values()]
        per_label[str(c)] = {"dice": mean([d for d, _ in s]), "hd95": mean([h for _, h in s]), "failed": sum(h is None for _, h in s)}
    return {"infer_images_per_s": len(ids) / seconds, "cases": len(ids), "per_label": per_label,
            "dice": mean([v["dice"] for v in per_label.values()]), "hd95": mean([v["hd95"] for v in per_label.values()])}


if __name__ == "__main__":
    main()
