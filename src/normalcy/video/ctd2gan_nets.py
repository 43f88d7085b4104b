"""The networks of CT-D2GAN (Feng et al., ACM MM 2021) as plain torch modules.

* ``ConvTransformer`` (the generator): a convolutional encoder applied to every past frame,
  a temporal self-attention module over the encoded frames (sinusoidal positional encoding
  over time; queries, keys and values are convolutions of the feature maps, so attention
  weights vary over space), and a convolutional decoder that predicts the next frame from
  the attended features of the last time step and the encoder's skip features of the last
  frame (a U-Net-style decoder, as in the paper). With ``residual=True`` the decoder's
  output is added to the last past frame (its last layer starts at zero, so training starts
  from "nothing moves" and learns the motion), a departure from the paper that makes a
  CPU-sized training budget enough.
* ``ImageDiscriminator``: a patch discriminator on single frames (local consistency).
* ``VideoDiscriminator``: a 3-D convolutional patch discriminator on the past frames
  followed by the real or predicted next frame (global temporal coherence).
* ``intensity_loss``, ``gradient_loss``, ``lsgan_*``: the losses of the paper (after Liu et
  al., CVPR 2018: L2 intensity, image-gradient difference, least-squares adversarial).

Frames are tensors in [-1, 1], shaped (B, T, C, H, W); H and W must be multiples of
``2 ** (len(channels) - 1)``. Everything is built on demand from ``build_*`` so that the
model-file spec can be derived on torch's "meta" device.

Reference: Feng, X., Song, D., Chen, Y., Chen, Z., Ni, J. & Chen, H. Convolutional
Transformer based Dual Discriminator Generative Adversarial Networks for Video Anomaly
Detection. ACM Multimedia 2021 (arXiv:2107.13720).
"""

from __future__ import annotations

import math
from typing import Any

from ..torch_helpers import require_torch

torch = require_torch("video")
nn = torch.nn
F = torch.nn.functional


def _conv_block(c_in: int, c_out: int) -> Any:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def positional_encoding(length: int, dim: int, device: Any = None) -> Any:
    """Sinusoidal encoding (Vaswani et al.) of ``length`` time steps, shape (length, dim)."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float32, device=device)
    angle = pos / torch.pow(10000.0, i / max(dim, 1))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe


class TemporalSelfAttention(nn.Module):
    """Multi-head self-attention over time on feature maps (B, T, D, h, w).

    The query of the last time step attends to the keys of every time step; the similarity
    of two time steps is the per-head inner product of their query and key maps, averaged
    over a ``window`` x ``window`` neighbourhood (so each region attends on its own).
    """

    def __init__(self, dim: int, heads: int, window: int = 3) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"feature width {dim} is not a multiple of heads={heads}")
        self.heads = heads
        self.window = window
        self.q = nn.Conv2d(dim, dim, 3, padding=1)
        self.k = nn.Conv2d(dim, dim, 3, padding=1)
        self.v = nn.Conv2d(dim, dim, 3, padding=1)
        self.out = nn.Conv2d(dim, dim, 1)
        self.norm1 = nn.GroupNorm(heads, dim)
        self.ff = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 1)
        )
        self.norm2 = nn.GroupNorm(heads, dim)

    def forward(self, feats: Any) -> Any:
        b, t, d, h, w = feats.shape
        x = feats + positional_encoding(t, d, feats.device)[None, :, :, None, None]
        flat = x.reshape(b * t, d, h, w)
        last = x[:, -1]
        hd = d // self.heads
        q = self.q(last).reshape(b, 1, self.heads, hd, h, w)
        k = self.k(flat).reshape(b, t, self.heads, hd, h, w)
        v = self.v(flat).reshape(b, t, self.heads, hd, h, w)
        sim = (q * k).sum(dim=3) / math.sqrt(hd)  # (b, t, heads, h, w)
        if self.window > 1:
            sim = F.avg_pool2d(
                sim.reshape(b, t * self.heads, h, w),
                self.window,
                stride=1,
                padding=self.window // 2,
                count_include_pad=False,
            ).reshape(b, t, self.heads, h, w)
        attn = torch.softmax(sim, dim=1)
        mixed = (attn[:, :, :, None] * v).sum(dim=1).reshape(b, d, h, w)
        y = self.norm1(last + self.out(mixed))
        return self.norm2(y + self.ff(y))


class ConvTransformer(nn.Module):
    """Generator: encoder per frame, temporal self-attention, decoder to the next frame."""

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, ...],
        heads: int,
        n_layers: int,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.levels = len(channels)
        self.enc = nn.ModuleList()
        c_prev = in_channels
        for c in channels:
            self.enc.append(_conv_block(c_prev, c))
            c_prev = c
        deep = channels[-1]
        self.attn = nn.ModuleList(TemporalSelfAttention(deep, heads) for _ in range(n_layers))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for level in range(self.levels - 2, -1, -1):
            c_hi, c = channels[level + 1], channels[level]
            self.up.append(nn.ConvTranspose2d(c_hi, c, 2, stride=2))
            self.dec.append(_conv_block(2 * c, c))
        self.head = nn.Conv2d(channels[0], in_channels, 3, padding=1)
        if residual:  # start as "the next frame is the last one" and learn the change
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def encode(self, frames: Any) -> list[Any]:
        """Encoder features of every frame (N, C, H, W): one tensor per level."""
        x = frames
        skips = []
        for i, block in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        return skips

    def decode(self, deep: Any, skips_last: list[Any], last_frame: Any) -> Any:
        """Next frame from the deepest features of the past frames (B, T, D, h, w), the
        skip features of the last past frame (one per level above the deepest) and that
        frame itself (B, C, H, W; used when ``residual``)."""
        y = None
        for layer in self.attn:
            y = layer(deep)
            deep = torch.cat([deep[:, :-1], y[:, None]], dim=1)
        for j, (up, dec) in enumerate(zip(self.up, self.dec, strict=True)):
            y = dec(torch.cat([up(y), skips_last[self.levels - 2 - j]], dim=1))
        if self.residual:
            return last_frame + self.head(y)
        return torch.tanh(self.head(y))

    def forward(self, past: Any) -> Any:
        b, t, c, h, w = past.shape
        skips = self.encode(past.reshape(b * t, c, h, w))
        deep = skips[-1].reshape(b, t, *skips[-1].shape[1:])
        last = [s.reshape(b, t, *s.shape[1:])[:, -1] for s in skips[:-1]]
        return self.decode(deep, last, past[:, -1])


class ImageDiscriminator(nn.Module):
    """Patch discriminator on frames (B, C, H, W) -> (B, 1, h, w) realness logits."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[Any] = []
        c_prev = in_channels
        for i, c in enumerate(channels):
            layers.append(nn.Conv2d(c_prev, c, 4, stride=2, padding=1))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_prev = c
        layers.append(nn.Conv2d(c_prev, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, frame: Any) -> Any:
        return self.net(frame)


class VideoDiscriminator(nn.Module):
    """3-D patch discriminator on clips (B, T, C, H, W) -> realness logits."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[Any] = []
        c_prev = in_channels
        for i, c in enumerate(channels):
            layers.append(nn.Conv3d(c_prev, c, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)))
            if i:
                layers.append(nn.BatchNorm3d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_prev = c
        layers.append(nn.Conv3d(c_prev, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, clip: Any) -> Any:
        return self.net(clip.transpose(1, 2))


def build_generator(
    in_channels: int, channels: tuple[int, ...], heads: int, n_layers: int, residual: bool = False
):
    return ConvTransformer(in_channels, tuple(channels), heads, n_layers, residual)


def build_image_discriminator(in_channels: int, channels: tuple[int, ...]):
    return ImageDiscriminator(in_channels, tuple(channels))


def build_video_discriminator(in_channels: int, channels: tuple[int, ...]):
    return VideoDiscriminator(in_channels, tuple(channels))


# -- losses -----------------------------------------------------------------------------
def intensity_loss(pred: Any, target: Any) -> Any:
    """Mean squared intensity difference (L2)."""
    return ((pred - target) ** 2).mean()


def gradient_loss(pred: Any, target: Any) -> Any:
    """Difference of absolute image gradients along x and y (L1, Mathieu et al. 2016)."""

    def grads(x: Any) -> tuple[Any, Any]:
        return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()

    px, py = grads(pred)
    tx, ty = grads(target)
    return (px - tx).abs().mean() + (py - ty).abs().mean()


def lsgan_generator_loss(fake_logits: Any) -> Any:
    """Least-squares adversarial loss of the generator: (D(G(x)) - 1)^2 / 2."""
    return ((fake_logits - 1) ** 2).mean() / 2


def lsgan_discriminator_loss(real_logits: Any, fake_logits: Any) -> Any:
    """Least-squares loss of a discriminator: ((D(x) - 1)^2 + D(G(x))^2) / 2."""
    return (((real_logits - 1) ** 2).mean() + (fake_logits**2).mean()) / 2
