"""Future frame prediction (Liu, Luo, Lian & Gao, CVPR 2018).

A U-Net predicts frame t from frames t-4 .. t-1; it is trained on normal clips only, with
the paper's intensity loss (L2 between predicted and true frame) and gradient loss (L1
between the absolute image gradients of the two). The optical-flow loss (it needs a
pretrained FlowNet) and the adversarial loss are not used: the paper's ablation (Table 3)
credits them with +0.3 and +0.9 AUC points on Ped2, and they would multiply training time.
Frames are brought to ``input_height`` pixels high (aspect kept, width a multiple of 8),
in [-1, 1], grey (``color=False``) or RGB.

Score: PSNR between the predicted and the true frame; the anomaly score is ``-PSNR``, or
with ``normalise="clip"`` (the paper's regular score ``(PSNR - min) / (max - min)`` per test
video, turned into ``1 - regular``) the per-clip min-max normalised version. The first
frames of a clip are predicted from a history padded by repeating frame 0 (the base's short
clip policy). Maps: the squared prediction error per pixel, at the frame size.

Training is resumable: with ``checkpoint`` set to a file path, the model and optimiser state
are written there (safetensors, no pickle) every ``checkpoint_every`` steps, and a later
``fit`` with the same parameters continues from the step recorded in it.

References
----------
Liu, Luo, Lian & Gao. Future Frame Prediction for Anomaly Detection - A New Baseline.
CVPR 2018.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import StateSpec
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    module_spec,
    require_torch,
    torch_session,
)
from .base import VideoDetector, history
from .input import VideoSource

NORMALISE = ("clip", "none")
HISTORY = 4


def _build(channels: int, width: int):
    """The U-Net generator: 3 down-sampling stages, skip connections, tanh output."""
    torch = require_torch()
    nn = torch.nn

    def block(cin: int, cout: int):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = width
            self.enc1 = block(channels * HISTORY, c)
            self.enc2 = block(c, 2 * c)
            self.enc3 = block(2 * c, 4 * c)
            self.mid = block(4 * c, 8 * c)
            self.up3 = nn.ConvTranspose2d(8 * c, 4 * c, 2, stride=2)
            self.dec3 = block(8 * c, 4 * c)
            self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
            self.dec2 = block(4 * c, 2 * c)
            self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
            self.dec1 = block(2 * c, c)
            self.out = nn.Conv2d(c, channels, 3, padding=1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            e3 = self.enc3(self.pool(e2))
            m = self.mid(self.pool(e3))
            d3 = self.dec3(torch.cat([self.up3(m), e3], 1))
            d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
            d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
            return torch.tanh(self.out(d1))

    return UNet()


def _gradient_loss(pred, target):
    """L1 between the absolute horizontal/vertical gradients of two image batches."""

    def grads(x):
        return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()

    px, py = grads(pred)
    tx, ty = grads(target)
    return (px - tx).abs().mean() + (py - ty).abs().mean()


@register(
    "frame_prediction",
    modality="video",
    paper="Liu, Luo, Lian & Gao. Future Frame Prediction for Anomaly Detection - A New "
    "Baseline. CVPR 2018",
    year=2018,
    can_localise=True,
)
class FramePrediction(VideoDetector):
    """Future frame prediction with a U-Net (Liu et al., CVPR 2018); score = -PSNR.

    Parameters
    ----------
    input_height:
        Frames are resized to this height (aspect kept; width rounded to a multiple of 8).
        Paper: 256 x 256.
    color:
        Predict RGB frames (True) or grey ones (False, default; Ped2 is grey).
    width:
        Channels of the first U-Net stage (doubled at each of 3 stages; paper: 64).
    n_steps, batch_size, lr:
        Adam steps, windows per step and learning rate (paper: 2e-4 generator rate).
    lambda_gradient:
        Weight of the gradient loss (paper: 1; the intensity loss has weight 1).
    normalise:
        "clip": per-clip min-max normalised PSNR as in the paper; "none": raw -PSNR.
    checkpoint, checkpoint_every:
        Path of a resumable training checkpoint (None: no checkpoint) and its period.
    device, num_threads, seed, verbose:
        "auto"/"cpu"/"cuda", torch CPU threads, seed of initialisation and sampling,
        progress bar.

    References
    ----------
    Liu, Luo, Lian & Gao. Future Frame Prediction for Anomaly Detection - A New Baseline.
    CVPR 2018.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "input_height": 16,
        "width": 4,
        "n_steps": 20,
        "batch_size": 4,
    }
    # The demo's 48 x 64 synthetic clips need a trained predictor, not the test's 20 steps.
    demo_params: ClassVar[dict[str, Any]] = {
        "input_height": 32,
        "width": 8,
        "n_steps": 300,
        "batch_size": 8,
    }
    temporal_window = HISTORY + 1
    can_stream: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "input_height": [Interval(Integral, 16, 1024)],
        "color": [bool],
        "width": [Interval(Integral, 1, 256)],
        "n_steps": [Interval(Integral, 1, 10_000_000)],
        "batch_size": [Interval(Integral, 1, 4096)],
        "lr": [Interval(Real, 0.0, 1.0, closed="right")],
        "lambda_gradient": [Interval(Real, 0.0, None)],
        "normalise": [Options(str, NORMALISE)],
        "checkpoint": [str, Path, None],
        "checkpoint_every": [Interval(Integral, 1, None)],
        "device": [Options(str, {"auto", "cpu", "cuda"})],
        "num_threads": [Interval(Integral, 1, 256), None],
        "seed": [Interval(Integral, 0, None)],
        "verbose": [bool],
    }

    def __init__(
        self,
        *,
        input_height: int = 64,
        color: bool = False,
        width: int = 16,
        n_steps: int = 3000,
        batch_size: int = 8,
        lr: float = 2e-4,
        lambda_gradient: float = 1.0,
        normalise: str = "clip",
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 200,
        device: str = "auto",
        num_threads: int | None = 2,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.input_height = input_height
        self.color = color
        self.width = width
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.lr = lr
        self.lambda_gradient = lambda_gradient
        self.normalise = normalise
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.num_threads = num_threads
        self.seed = seed
        self.verbose = verbose

    # -- frames ---------------------------------------------------------------------------------
    def _channels(self) -> int:
        return 3 if self.color else 1

    def _size(self, size: tuple[int, int]) -> tuple[int, int]:
        h = int(self.input_height)
        h8 = max(8, h // 8 * 8)
        w = max(8, int(round(size[1] * h / size[0] / 8)) * 8)
        return h8, w

    def _prepare(self, frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(n, H, W, C) float [0, 1] → (n, c, h, w) float32 in [-1, 1] at the model size."""
        import torch
        import torch.nn.functional as F

        from .input import convert_channels

        c = self._channels()
        frames = np.stack([convert_channels(f, c) for f in frames])
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x * 2.0 - 1.0).numpy()

    def _clip_tensor(self, data: VideoSource, i: int) -> np.ndarray:
        size = self._size(data.size)
        chunks = [self._prepare(f, size) for _, f in data.iter_chunks(i, 64)]
        return np.concatenate(chunks)

    # -- fit ------------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        keys = ("input_height", "color", "width", "batch_size", "lr", "lambda_gradient", "seed")
        return {k: getattr(self, k) for k in keys}

    def _fit(self, data: VideoSource) -> None:
        from ..progress import progress_bar

        clips = [self._clip_tensor(data, i) for i in range(len(data))]
        windows = [(c, t) for c, clip in enumerate(clips) for t in range(len(clip))]
        with torch_session(self.seed, self.num_threads) as torch:
            from ..torch_helpers import resolve_device

            device = resolve_device(self.device)
            model = _build(self._channels(), int(self.width)).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=float(self.lr), betas=(0.5, 0.999))
            start = self._resume(model, opt)
            model.train()
            n_steps = int(self.n_steps)
            with progress_bar("frame_prediction: training", n_steps, self.verbose) as bar:
                bar(advance=start)
                for step in range(start, n_steps):
                    rng = np.random.default_rng([int(self.seed), step])  # resumable as is
                    pick = rng.integers(0, len(windows), size=int(self.batch_size))
                    x, y = self._batch([windows[k] for k in pick], clips)
                    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
                    pred = model(x)
                    loss = ((pred - y) ** 2).mean() + float(self.lambda_gradient) * (
                        _gradient_loss(pred, y)
                    )
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    bar(loss=float(loss.detach()))
                    done = step + 1
                    if self.checkpoint and (
                        done % int(self.checkpoint_every) == 0 or done == n_steps
                    ):
                        self._save_checkpoint(model, opt, done)
            self.model_ = model.cpu().eval()
            self.input_size_ = list(self._size(data.size))

    @staticmethod
    def _batch(picks: list[tuple[int, int]], clips: list[np.ndarray]):
        xs, ys = [], []
        for c, t in picks:
            idx = history(t + 1, HISTORY + 1)[t]  # t-4 .. t, padded at the clip start
            frames = clips[c][idx]
            xs.append(frames[:HISTORY].reshape(-1, *frames.shape[2:]))
            ys.append(frames[HISTORY])
        return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)

    # -- checkpoints ---------------------------------------------------------------------------
    def _save_checkpoint(self, model, opt, step: int) -> None:
        from safetensors.numpy import save_file

        arrays = module_arrays(model, "model.")
        state = opt.state_dict()
        for pid, entry in state["state"].items():
            for key, value in entry.items():
                arr = value.detach().cpu().numpy() if hasattr(value, "detach") else value
                arrays[f"opt.{pid}.{key}"] = np.atleast_1d(np.asarray(arr, dtype=np.float32))
        meta = {"step": str(step), "config": json.dumps(self._config(), sort_keys=True)}
        path = Path(self.checkpoint)
        tmp = path.with_name(path.name + ".tmp")
        save_file(arrays, str(tmp), metadata=meta)
        tmp.replace(path)

    def _resume(self, model, opt) -> int:
        """Load the checkpoint when it exists and matches the parameters; its step."""
        if not self.checkpoint or not Path(self.checkpoint).is_file():
            return 0
        import torch
        from safetensors import safe_open
        from safetensors.numpy import load_file

        path = str(self.checkpoint)
        try:
            with safe_open(path, framework="numpy") as f:
                meta = f.metadata() or {}
            arrays = load_file(path)
            if json.loads(meta.get("config", "{}")) != json.loads(
                json.dumps(self._config(), sort_keys=True)
            ):
                raise InputError(
                    f"checkpoint {path} was written with other parameters; delete it or "
                    "use another path"
                )
            step = int(meta["step"])
            load_module_arrays(model, arrays, "model.")
            state = opt.state_dict()
            for pid in range(len(list(model.parameters()))):
                entry = {}
                for key in ("step", "exp_avg", "exp_avg_sq"):
                    arr = arrays.get(f"opt.{pid}.{key}")
                    if arr is None:
                        break
                    t = torch.from_numpy(arr.copy())
                    entry[key] = t.reshape(()) if key == "step" else t
                if entry:
                    state["state"][pid] = entry
            opt.load_state_dict(state)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot resume from checkpoint {path}: {exc}") from None
        return min(step, int(self.n_steps))

    # -- score ----------------------------------------------------------------------------------
    def _predict(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PSNR (n,) and squared-error maps (n, h, w) of predictions of ``y`` from ``x``."""
        import torch

        with torch.inference_mode():
            pred = self.model_(torch.from_numpy(x)).numpy()
        err = ((pred - y) ** 2).mean(axis=1)  # (n, h, w), on [-1, 1] pixels
        mse = err.reshape(len(err), -1).mean(1)
        psnr = 10.0 * np.log10(4.0 / np.maximum(mse, 1e-10))  # peak-to-peak range 2
        return psnr, err.astype(np.float32)

    def _maps(self, err: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(err)[:, None]
        return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()

    def _score_clip(self, data: VideoSource, i: int) -> tuple[np.ndarray, np.ndarray]:
        clip = self._clip_tensor(data, i)
        idx = history(len(clip), HISTORY + 1)
        psnr, maps = [], []
        with torch_session(None, self.num_threads):
            for start in range(0, len(clip), 32):
                win = clip[idx[start : start + 32]]  # (b, 5, c, h, w)
                x = win[:, :HISTORY].reshape(len(win), -1, *win.shape[3:])
                p, err = self._predict(np.ascontiguousarray(x), win[:, HISTORY])
                psnr.append(p)
                maps.append(self._maps(err, data.size))
        p = np.concatenate(psnr)
        if self.normalise == "clip":
            lo, hi = float(p.min()), float(p.max())
            score = 1.0 - (p - lo) / (hi - lo) if hi > lo else np.zeros_like(p)
        else:
            score = -p
        return score, np.concatenate(maps)

    def _score_window(self, window: np.ndarray) -> tuple[float, np.ndarray]:
        clip = self._prepare(window, tuple(self.input_size_))
        x = clip[:HISTORY].reshape(1, -1, *clip.shape[2:])
        with torch_session(None, self.num_threads):
            p, err = self._predict(np.ascontiguousarray(x), clip[HISTORY:])
        return float(-p[0]), self._maps(err, window.shape[1:3])[0]

    # -- state ----------------------------------------------------------------------------------
    def _get_state(self):
        return module_arrays(self.model_, "unet."), {"input_size": list(self.input_size_)}

    def _state_spec(self) -> StateSpec:
        """The U-Net's arrays for (``color``, ``width``) and the model input size [h, w]."""
        arrays = module_spec(lambda: _build(self._channels(), int(self.width)), "unet.")
        form = Satisfies(
            lambda v: (
                isinstance(v, list)
                and len(v) == 2
                and all(
                    isinstance(s, int) and not isinstance(s, bool) and 8 <= s <= 8192 for s in v
                )
            ),
            "[h, w] integers in [8, 8192]",
        )
        return StateSpec(arrays=arrays, meta={"input_size": [form]})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        with torch_session():
            model = _build(self._channels(), int(self.width))
            load_module_arrays(model, arrays, "unet.")
        self.model_ = model.eval()
        self.input_size_ = [int(v) for v in meta["input_size"]]
