"""PyTorch side of bench/engine: the same small U-Net, data shapes, loss, optimizer and timing protocol as
run.ts, with the same thread count. Prints one JSON object of timings (milliseconds) on stdout.

Run by bench/engine/run.ts with /usr/bin/python3 (Debian's python3-torch, the same libtorch 1.13 as samtutor)."""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_unet import SMALL_UNET_2D, build_unet  # noqa: E402


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples), samples


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--parts", default="train,infer,train_bf16,infer_bf16,flops")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    parts = set(a.parts.split(","))
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    if "train" in parts:
        # Sanity check that both sides run the same computation: the first loss from identical seeded weights.
        out["first_loss"] = None

    model = build_unet(SMALL_UNET_2D)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = (torch.rand(a.batch, 1, a.size, a.size) > 0.5).float()

    def train_step(bf16):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        loss.backward()
        opt.step()
        return loss.item()

    def infer(bf16):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(x)

    if "train" in parts:
        model.train()
        out["first_loss"] = train_step(False)
        out["train_fp32_ms"], out["train_fp32_samples"] = median_ms(lambda: train_step(False), a.warmup, a.iters)
    if "train_bf16" in parts:
        model.train()
        out["train_bf16_ms"], out["train_bf16_samples"] = median_ms(lambda: train_step(True), a.warmup, a.iters)
    if "infer" in parts:
        model.eval()
        out["infer_fp32_ms"], out["infer_fp32_samples"] = median_ms(lambda: infer(False), a.warmup, a.iters)
    if "infer_bf16" in parts:
        model.eval()
        out["infer_bf16_ms"], out["infer_bf16_samples"] = median_ms(lambda: infer(True), a.warmup, a.iters)
    if "flops" in parts:
        conv_x = torch.randn(8, 64, 128, 128)
        conv_w = torch.randn(64, 64, 3, 3)
        mm_a = torch.randn(2048, 2048)
        mm_b = torch.randn(2048, 2048)
        with torch.inference_mode():
            out["conv_ms"], _ = median_ms(lambda: F.conv2d(conv_x, conv_w, padding=1), 2, 7)
            out["matmul_ms"], _ = median_ms(lambda: torch.mm(mm_a, mm_b), 2, 7)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
