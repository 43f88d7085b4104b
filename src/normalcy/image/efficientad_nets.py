"""EfficientAD's networks: the patch description network (PDN) and the autoencoder.

References
----------
Batzner, Heckler & König. EfficientAD: Accurate Visual Anomaly Detection at
Millisecond-Level Latencies. WACV 2024 (Sec. 3.1 and 3.3, Tables 6-8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PDN(nn.Module):
    """Patch description network. ``S``: conv4-pool-conv4-pool-conv3-conv4; ``M``: conv4-pool-
    conv4-pool-conv1-conv3-conv4-conv1 (ReLU between convolutions, average pooling 2x2).
    ``padding`` pads every layer (used while distilling the teacher, as in the paper)."""

    def __init__(self, variant: str, out: int, width: float):
        super().__init__()
        self.variant = variant
        self.padding = False
        if variant == "S":
            c1, c2 = max(8, round(128 * width)), max(8, round(256 * width))
            spec = [(3, c1, 4, 3), "pool", (c1, c2, 4, 3), "pool", (c2, c2, 3, 1), (c2, out, 4, 0)]
        else:
            c1, c2 = max(8, round(256 * width)), max(8, round(512 * width))
            spec = [
                (3, c1, 4, 3), "pool", (c1, c2, 4, 3), "pool", (c2, c2, 1, 0), (c2, c2, 3, 1),
                (c2, out, 4, 0), (out, out, 1, 0),
            ]  # fmt: skip
        self.spec = spec
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, k) for a, b, k, _ in (s for s in spec if s != "pool")
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i = 0
        n = len(self.convs)
        for s in self.spec:
            if s == "pool":
                x = F.avg_pool2d(x, 2, 2, padding=1 if self.padding else 0)
                continue
            pad = s[3] if self.padding else 0
            if pad:
                x = F.pad(x, (pad,) * 4)
            x = self.convs[i](x)
            i += 1
            if i < n:
                x = F.relu(x)
        return x


class AutoEncoder(nn.Module):
    """EfficientAD's autoencoder: six strided convolutions to a 1x1 code, then bilinear
    upsampling + convolution (and dropout) stages, ending at the PDN's output size."""

    def __init__(self, out: int, width: float, image_size: int, out_size: int):
        super().__init__()
        a, b = max(8, round(32 * width)), max(8, round(64 * width))
        last = max(1, image_size // 32)
        self.enc = nn.ModuleList(
            [
                nn.Conv2d(3, a, 4, 2, 1),
                nn.Conv2d(a, a, 4, 2, 1),
                nn.Conv2d(a, b, 4, 2, 1),
                nn.Conv2d(b, b, 4, 2, 1),
                nn.Conv2d(b, b, 4, 2, 1),
                nn.Conv2d(b, b, last),
            ]
        )
        self.dec = nn.ModuleList(nn.Conv2d(b, b, 4, 1, 2) for _ in range(6))
        self.head = nn.ModuleList([nn.Conv2d(b, b, 3, 1, 1), nn.Conv2d(b, out, 3, 1, 1)])
        scale = image_size / 256
        self.sizes = [max(1, round(s * scale)) for s in (3, 8, 15, 32, 63, 127)]
        self.out_size = int(out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.enc):
            x = conv(x)
            if i < len(self.enc) - 1:
                x = F.relu(x)
        for size, conv in zip(self.sizes, self.dec, strict=True):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = F.dropout(F.relu(conv(x)), p=0.2, training=self.training)
        x = F.interpolate(
            x, size=(self.out_size, self.out_size), mode="bilinear", align_corners=False
        )
        return self.head[1](F.relu(self.head[0](x)))
