"""PyTorch reference of samtutor's U-Net students (src/models/unet/).

The classes mirror src/models/unet/blocks.ts and unet.ts child for child, so ``state_dict()`` keys, order and
shapes are identical to samtutor's ``model.stateDict()``, and modules are constructed (and initialised) in the
same order: after ``torch.manual_seed(s)`` / ``manualSeed(s)`` both sides start from the same weights.

``build_unet(config)`` takes the same JSON config samtutor records in checkpoints (camelCase keys, see
src/models/unet/config.ts); missing keys take samtutor's defaults. ``SMALL_UNET_2D`` is the benchmark / demo model.

Command line::

    python3 reference_unet.py                     # SMALL_UNET_2D: structure, parameter count, state_dict keys
    python3 reference_unet.py --config '{"spatialDims": 3, "inChannels": 1, "outChannels": 2, "widths": [8, 16]}'
    python3 reference_unet.py --count             # the parameter count only
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = {"arch": "unet", "norm": "batch", "groups": 8, "dropout": 0, "upsample": "transpose", "convsPerLevel": 2}

SMALL_UNET_2D = {
    "arch": "unet", "spatialDims": 2, "inChannels": 3, "outChannels": 1, "widths": [16, 32, 64, 128],
    "norm": "batch", "groups": 8, "dropout": 0, "upsample": "transpose", "convsPerLevel": 2,
}


def _conv(dims, cin, cout, kernel, padding=0, bias=True):
    return (nn.Conv2d if dims == 2 else nn.Conv3d)(cin, cout, kernel, padding=padding, bias=bias)


def _norm(c, channels):
    d = c["spatialDims"]
    if c["norm"] == "batch":
        return (nn.BatchNorm2d if d == 2 else nn.BatchNorm3d)(channels)
    if c["norm"] == "instance":
        return (nn.InstanceNorm2d if d == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if c["norm"] == "group":
        return nn.GroupNorm(min(c["groups"], channels), channels)
    return None


def _dropout(c):
    if c["dropout"] > 0:
        return (nn.Dropout2d if c["spatialDims"] == 2 else nn.Dropout3d)(c["dropout"])
    return None


class ConvNormAct(nn.Module):
    """conv k3 p1 (bias only without norm) -> norm -> ReLU."""

    def __init__(self, c, cin, cout):
        super().__init__()
        self.conv = _conv(c["spatialDims"], cin, cout, 3, padding=1, bias=c["norm"] == "none")
        self.norm = _norm(c, cout)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.act(x)


class ConvBlock(nn.Module):
    def __init__(self, c, cin, cout):
        super().__init__()
        self.convs = nn.ModuleList(ConvNormAct(c, cin if j == 0 else cout, cout) for j in range(c["convsPerLevel"]))
        self.drop = _dropout(c)

    def forward(self, x):
        for layer in self.convs:
            x = layer(x)
        return self.drop(x) if self.drop is not None else x


class UpsampleConv(nn.Module):
    def __init__(self, dims, cin, cout):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear" if dims == 2 else "trilinear", align_corners=False)
        self.conv = _conv(dims, cin, cout, 1)

    def forward(self, x):
        return self.conv(self.upsample(x))


class UpBlock(nn.Module):
    def __init__(self, c, cin, cout):
        super().__init__()
        d = c["spatialDims"]
        if c["upsample"] == "transpose":
            self.up = (nn.ConvTranspose2d if d == 2 else nn.ConvTranspose3d)(cin, cout, 2, stride=2)
        else:
            self.up = UpsampleConv(d, cin, cout)
        self.convs = nn.ModuleList(ConvNormAct(c, 2 * cout if j == 0 else cout, cout) for j in range(c["convsPerLevel"]))
        self.drop = _dropout(c)

    def forward(self, x, skip):
        x = self.up(x)
        pads = []
        for i in range(x.dim() - 1, 1, -1):
            diff = skip.shape[i] - x.shape[i]
            pads += [diff // 2, diff - diff // 2]
        if any(pads):
            x = F.pad(x, pads)
        x = torch.cat([skip, x], dim=1)
        for layer in self.convs:
            x = layer(x)
        return self.drop(x) if self.drop is not None else x


class UNetBase(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = self.config = {**DEFAULTS, **config}
        w = c["widths"]
        self.encoder = nn.ModuleList(ConvBlock(c, c["inChannels"] if i == 0 else w[i - 1], cout) for i, cout in enumerate(w))
        self.pool = (nn.MaxPool2d if c["spatialDims"] == 2 else nn.MaxPool3d)(2)
        self.decoder = nn.ModuleList(UpBlock(c, w[i], w[i - 1]) for i in range(len(w) - 1, 0, -1))

    def features(self, x):
        skips = []
        for i, block in enumerate(self.encoder):
            if i > 0:
                skips.append(x)
                x = self.pool(x)
            x = block(x)
        for up in self.decoder:
            x = up(x, skips.pop())
        return x


class UNet(UNetBase):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        self.head = _conv(c["spatialDims"], c["widths"][0], c["outChannels"], 1)

    def forward(self, x):
        return self.head(self.features(x))


class DualHeadUNet(UNetBase):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        self.fg_head = _conv(c["spatialDims"], c["widths"][0], c["outChannels"], 1)
        self.bg_head = _conv(c["spatialDims"], c["widths"][0], c["outChannels"], 1)

    def forward(self, x):
        f = self.features(x)
        return {"fg": self.fg_head(f), "bg": self.bg_head(f)}


def build_unet(config):
    c = {**DEFAULTS, **config}
    return DualHeadUNet(c) if c["arch"] == "dual-head-unet" else UNet(c)


def num_parameters(model):
    return sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=None, help="a samtutor U-Net config as JSON (default: SMALL_UNET_2D)")
    ap.add_argument("--count", action="store_true", help="print the parameter count only")
    args = ap.parse_args()
    model = build_unet(json.loads(args.config) if args.config else SMALL_UNET_2D)
    if args.count:
        print(num_parameters(model))
        return
    print(model)
    print("parameters:", num_parameters(model))
    for k, v in model.state_dict().items():
        print(k, list(v.shape), str(v.dtype).replace("torch.", ""))


if __name__ == "__main__":
    main()
