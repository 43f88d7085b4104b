"""The network of the EEGFormer detector (see ``eegformer``): patch embedding, transformer
encoder, vector-quantised codebook, transformer decoder back to the patch values."""

from __future__ import annotations

from typing import Any

from ..torch_helpers import require_torch


def build(n_tokens: int, patch: int, dim: int, codes: int, layers: int, heads: int) -> Any:
    torch = require_torch()
    nn = torch.nn
    F = torch.nn.functional

    class EEGFormerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(2 * patch, dim)  # values and log-magnitude spectrum
            self.pos = nn.Parameter(torch.randn(n_tokens, dim) * 0.02)
            self.mask_token = nn.Parameter(torch.zeros(dim))
            block = nn.TransformerEncoderLayer(
                dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
            self.codebook = nn.Embedding(codes, dim)
            nn.init.normal_(self.codebook.weight, std=0.5)
            dec = nn.TransformerEncoderLayer(
                dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
            )
            self.decoder = nn.TransformerEncoder(dec, 1, enable_nested_tensor=False)
            self.head = nn.Linear(dim, patch)

        def tokens(self, x):
            spec = torch.log1p(torch.fft.rfft(x, n=2 * patch - 2, dim=-1).abs())
            return self.embed(torch.cat([x, spec], dim=-1))

        def forward(self, x, mask=None):
            """x: (n, tokens, patch); mask: (n, tokens) bool or None. Returns the
            reconstruction, the code of every token and the VQ loss."""
            h = self.tokens(x)
            if mask is not None:
                h = torch.where(mask[..., None], self.mask_token.expand_as(h), h)
            h = self.encoder(h + self.pos)
            flat = h.reshape(-1, h.shape[-1])
            dist = (
                flat.pow(2).sum(1, keepdim=True)
                - 2 * flat @ self.codebook.weight.T
                + self.codebook.weight.pow(2).sum(1)[None]
            )
            code = dist.argmin(dim=1)
            q = self.codebook(code).view_as(h)
            vq_loss = F.mse_loss(q, h.detach()) + 0.25 * F.mse_loss(h, q.detach())
            q = h + (q - h).detach()  # straight-through
            out = self.head(self.decoder(q + self.pos))
            return out, code.view(h.shape[:2]), vq_loss

    return EEGFormerNet()
