"""EfficientAD's teacher: a PDN distilled from EfficientNet-Lite features on a corpus made
at fit time (training images, procedural textures, simulated anomalies).

``TeacherDistillation`` is the part of ``EfficientAD`` that builds the distillation targets
(EfficientNet-Lite stages 4 and 5 at twice the input resolution, locally averaged and
projected by PCA to ``out_channels``), the corpus, and runs the teacher's training phase.

References
----------
Batzner, Heckler & König. EfficientAD: Accurate Visual Anomaly Detection at
Millisecond-Level Latencies. WACV 2024 (Sec. 3.1; the paper distils from WideResNet-101).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import InputError
from .efficientad_crops import crop_batch
from .feature_detector import local_average
from .textures import as_float, augment_image, procedural_texture, simulate_anomaly

TEACHER_LR = 1e-3
# Share of the time left of ``max_minutes`` that the teacher's distillation may use.
TEACHER_BUDGET_SHARE = 0.3


class TeacherDistillation:
    """The teacher's distillation; mixed into ``EfficientAD``, whose parameters
    (``teacher_*``, ``image_size``, ``seed``), networks (``teacher_``) and helpers
    (``_backbone``, ``_tensor``, ``_trainer``, ``_crop``, ``_channels``) it uses."""

    def _lite_targets(self, x: torch.Tensor) -> torch.Tensor:
        """EfficientNet-Lite stage 4 + 5 features of ``x`` at twice its resolution, 3x3
        locally averaged, on the stride-4 grid of ``x`` (B, 120, S/4, S/4)."""
        ext = self._backbone()
        big = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        with torch.no_grad():
            feats = ext(big.contiguous(memory_format=torch.channels_last))
        size = (x.shape[-2] // 4, x.shape[-1] // 4)
        return torch.cat(
            [
                F.interpolate(
                    local_average(f.float(), 3), size=size, mode="bilinear", align_corners=False
                )
                for f in feats
            ],
            dim=1,
        )

    def _corpus_image(self, train: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One distillation image: a training image, or (``mixed``, 20% of the time)
        a procedural texture or a training image with a simulated anomaly, so that the
        teacher also describes patches unlike the training data."""
        img = as_float(train[int(rng.integers(len(train)))])
        r = rng.random() if self.teacher_corpus == "mixed" else 0.0
        if r < 0.8:
            return img
        if r < 0.9:
            tex = procedural_texture(img.shape[:2], rng)
            return augment_image(tex, rng) if rng.random() < 0.5 else tex
        return simulate_anomaly(img, rng, train, p_anomaly=1.0)[0]

    def _distil_teacher(self, train: np.ndarray, val: np.ndarray, config: str) -> dict[str, Any]:
        device = self._torch_device()
        c = self._channels
        # PCA of the Lite targets on (a sample of) the training images fixes the projection.
        sample = np.random.default_rng([int(self.seed), 11]).permutation(len(train))[:32]
        with torch.no_grad():
            t = torch.cat([self._lite_targets(self._tensor(train[i : i + 1])) for i in sample])
            rows = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]).double()
            mean = rows.mean(0)
            evals, evecs = torch.linalg.eigh(torch.cov(rows.T))
            if c > rows.shape[1]:
                raise InputError(
                    f"out_channels={c} exceeds the {rows.shape[1]} dimensions of the "
                    "EfficientNet-Lite target features"
                )
            proj = evecs[:, torch.argsort(evals, descending=True)[:c]]
            # One global scale (unit mean variance): the loss weighs components by variance.
            scale = ((rows - mean) @ proj).var(0).mean().sqrt().clamp_min(1e-6)
        proj = (proj / scale).float().to(device)
        mean = mean.float().to(device)

        def target(x: torch.Tensor) -> torch.Tensor:
            f = self._lite_targets(x).permute(0, 2, 3, 1)
            return ((f - mean) @ proj).permute(0, 3, 1, 2)

        val_x = self._tensor(val[: min(len(val), 16)])
        with torch.no_grad():
            val_t = target(val_x)
        # The corpus and its targets are made once (the backbone at twice the resolution
        # costs far more than a PDN step), then the steps sample batches from it.
        crng = np.random.default_rng([int(self.seed), 17])
        n_corpus = int(self.teacher_images)
        corpus = np.stack(
            [
                np.clip(self._corpus_image(train, crng) * 255.0 + 0.5, 0, 255).astype(np.uint8)
                for _ in range(n_corpus)
            ]
        )
        with torch.no_grad():
            targets = torch.cat(
                [target(self._tensor(corpus[s : s + 8])) for s in range(0, n_corpus, 8)]
            )
        crop = self._crop(self.teacher_crop)

        def step(t: int, rng: np.random.Generator) -> torch.Tensor:
            if crop is None:  # whole padded images, as in the paper
                batch = min(int(self.teacher_batch), n_corpus)
                pick = np.sort(rng.choice(n_corpus, size=batch, replace=False))
                x = self._tensor(corpus[pick])
                tgt = targets[torch.from_numpy(pick)]
                if rng.random() < 0.5:  # horizontal flip of image and target grid
                    x, tgt = x.flip(-1), tgt.flip(-1)
                return F.mse_loss(self.teacher_(x), tgt)
            # Crops, unpadded: the PDN is fully convolutional, so each output cell on a crop
            # is the cell of the whole image it would be (``crop_batch``); a step sees many
            # more images for the same cost, and no cell sees padding.
            batch = int(self.teacher_batch)
            pick = rng.integers(n_corpus, size=batch)
            offsets = rng.integers(0, (int(self.image_size) - int(crop)) // 4 + 1, size=(batch, 2))
            x, tgt = crop_batch(corpus, targets, pick, offsets, int(crop))
            return F.mse_loss(self.teacher_(self._tensor(x)), tgt)

        def validate() -> float:
            # always on the unpadded cells of whole images, the cells used at inference
            padding, self.teacher_.padding = self.teacher_.padding, False
            out = self.teacher_(val_x)
            self.teacher_.padding = padding
            h, w = out.shape[-2:]
            return float(F.mse_loss(out, val_t[:, :, 4 : 4 + h, 4 : 4 + w]))

        self.teacher_.padding = crop is None
        opt = torch.optim.Adam(self.teacher_.parameters(), lr=TEACHER_LR, weight_decay=1e-5)
        n = int(self.teacher_steps)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n), eta_min=1e-5)
        trainer = self._trainer(
            {"teacher": self.teacher_},
            {"teacher": opt},
            schedulers={"teacher": sched},
            name="teacher",
            max_steps=n,
            config=config,
            validate=validate,
            patience=None,
            budget_share=TEACHER_BUDGET_SHARE,
        )
        result = trainer.run(step)
        self.teacher_.padding = False
        for p in self.teacher_.parameters():
            p.requires_grad_(False)
        return result.to_dict()
