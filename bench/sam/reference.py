"""PyTorch side of bench/sam: times the image embedding and the per-prompt decode of a SAM-family checkpoint (ViT
or MobileSAM's TinyViT) with the official forward re-stated functionally (sam_functional.py), on the same input
and weights as samtutor, in fp32 and under bf16 autocast. Prints one JSON object (milliseconds per sample per part,
and the BLAS library this process runs on) and saves each precision's embedding (as float32) for the sanity
comparison."""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sam_functional import functional_sam  # noqa: E402


def times(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def blas_library():
    """The BLAS file this process mapped (libtorch links libblas.so.3, whichever build it resolves to)."""
    files = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if "/" in line}
    for pattern in ("libopenblas", "libmkl", "libblas.so"):
        found = sorted(f for f in files if pattern in f.rsplit("/", 1)[-1])
        if found:
            return found[0]
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--config", required=True, help="JSON for sam_functional.functional_sam (ViT or TinyViT encoder)")
    p.add_argument("--input", required=True, help="raw float32 1x3x1024x1024 (normalised, padded)")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--embed-iters", type=int, default=3)
    p.add_argument("--decode-iters", type=int, default=20)
    p.add_argument("--save-embedding", required=True, help="path with {prec}")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sd = torch.load(a.checkpoint, map_location="cpu")
    sam = functional_sam(sd, json.loads(a.config))
    x = torch.from_numpy(np.fromfile(a.input, dtype=np.float32).reshape(1, 3, 1024, 1024))
    box = torch.tensor([[200.0, 300.0, 700.0, 800.0]])
    out = {}
    with torch.inference_mode():
        for prec in a.precisions.split(","):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
                out[f"embed_{prec}"] = times(lambda: sam.encoder(x), 1, a.embed_iters)
                emb = sam.encoder(x)

                def decode():
                    sparse, dense = sam.prompt_encoder(None, box, None)
                    return sam.decoder(emb, sparse, dense, False)

                out[f"decode_{prec}"] = times(decode, 2, a.decode_iters)
            np.save(a.save_embedding.replace("{prec}", prec), emb.float().numpy())
    print(json.dumps({"times": out, "blas": blas_library()}))


if __name__ == "__main__":
    main()
