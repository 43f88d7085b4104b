"""The 3-D convolutional VAE of the 3D-CVAE detector (network only; see ``cvae3d``).

Input: ``(n, 1, L, p, p)`` spatial-spectral patches (``L`` bands padded to a multiple of 4,
``p`` the patch side). Encoder: a 3-D convolution with a ``7 x p x p`` kernel (spectral
stride 2; it reads the whole neighbourhood and leaves one spatial position), a 1-D
convolution along the bands (stride 2), then linear maps to the latent mean and
log-variance. Decoder: a linear map and two transposed 1-D convolutions back to
``(n, 2, L, p, p)``: the mean and log-variance of a Gaussian over every value of the patch.
(Transposed 3-D convolutions over a 3 x 3 neighbourhood cost 20x more on a CPU for the same
output; the decoder's last layer emits all ``p x p`` spectra as channels instead.)
"""

from __future__ import annotations

from typing import Any

from ..torch_helpers import require_torch

LOGVAR_LIMIT = 8.0  # predicted log-variances lie in [-8, 8] (tanh-scaled)


def padded_bands(n_bands: int) -> int:
    return -(-n_bands // 4) * 4


def build(n_bands: int, patch: int, channels: int, latent: int) -> Any:
    """The VAE for ``n_bands`` bands and ``patch x patch`` neighbourhoods."""
    torch = require_torch()
    nn = torch.nn
    L = padded_bands(n_bands)
    c1, c2 = channels, 2 * channels

    class CVAE3D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # the one 3-D convolution sees the whole p x p neighbourhood of 7 bands
            self.enc3d = nn.Conv3d(1, c1, (7, patch, patch), stride=(2, 1, 1), padding=(3, 0, 0))
            self.enc = nn.Sequential(
                nn.LeakyReLU(0.1),
                nn.Conv1d(c1, c2, 5, stride=2, padding=2),
                nn.LeakyReLU(0.1),
            )
            flat = c2 * (L // 4)
            self.mu = nn.Linear(flat, latent)
            self.logvar = nn.Linear(flat, latent)
            self.expand = nn.Linear(latent, flat)
            self.dec = nn.Sequential(
                nn.LeakyReLU(0.1),
                nn.ConvTranspose1d(c2, c1, 4, stride=2, padding=1),
                nn.LeakyReLU(0.1),
                nn.ConvTranspose1d(c1, 2 * patch * patch, 4, stride=2, padding=1),
            )

        def encode(self, x):
            h = self.enc(self.enc3d(x).flatten(2)).flatten(1)
            return self.mu(h), self.logvar(h).clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)

        def decode(self, z):
            h = self.expand(z).view(z.shape[0], c2, L // 4)
            out = self.dec(h).view(z.shape[0], 2, patch, patch, L).permute(0, 1, 4, 2, 3)
            return out[:, 0], LOGVAR_LIMIT * torch.tanh(out[:, 1] / LOGVAR_LIMIT)

        def forward(self, x, sample: bool = True):
            mu, logvar = self.encode(x)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
            mean, var_log = self.decode(z)
            return mean, var_log, mu, logvar

    return CVAE3D()
