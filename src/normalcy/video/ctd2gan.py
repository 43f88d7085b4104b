"""CT-D2GAN (Feng et al., ACM MM 2021): future-frame prediction with a convolutional
transformer, trained against an image and a video discriminator; the prediction error of
each frame is its anomaly score and the per-pixel error its map.

The generator (``ctd2gan_nets.ConvTransformer``) encodes each of the ``n_past`` previous
frames with a convolutional encoder, lets the last time step attend to all of them with a
temporal self-attention module (positional encoding over time, convolutional queries, keys
and values) and decodes the next frame, with U-Net skips from the last frame. It is trained
on normal clips with an L2 intensity loss, an image-gradient loss and two least-squares
adversarial losses: an image discriminator judges single predicted frames (local
consistency) and a video discriminator judges the past frames followed by the prediction
(temporal coherence). Training is ``ctd2gan_train.Trainer`` (resumable checkpoints).

Scoring follows the frame-prediction literature: frame t is predicted from frames
t-n_past..t-1 (the start of a clip is padded by repeating its first frame, the
``on_short_clip="pad"`` policy of ``VideoDetector``); its PSNR against the real frame,
``10 log10(1 / MSE)`` on [0, 1] pixels, is high for predictable (normal) frames. The score
is ``-PSNR`` (``normalise="none"``) or, with ``normalise="clip"``, the per-video min-max
normalised ``1 - (PSNR - min) / (max - min)`` of Liu et al. and Feng et al. (each clip is
then ranked on its own; use it to compare with published numbers, not for thresholds shared
across clips). Maps are the squared prediction error per pixel (mean over channels),
resized to the input size.

Sizes: the paper works on 256x256 frames with an encoder of 64-128-256-512 channels; the
CPU defaults (64x96 frames, 8-16-32 channels, 1 attention layer, residual prediction)
train in minutes (docs/video.md lists the departures from the paper).
``height``/``width``/``channels``/``disc_channels`` set the paper's sizes.

Reference: Feng, X., Song, D., Chen, Y., Chen, Z., Ni, J. & Chen, H. Convolutional
Transformer based Dual Discriminator Generative Adversarial Networks for Video Anomaly
Detection. ACM Multimedia 2021, 5546-5554 (arXiv:2107.13720).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, ListOf, Options, Real
from ..core.errors import InputError, ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    module_spec,
    require_torch,
    resolve_device,
    torch_session,
)
from .base import VideoDetector, history
from .input import VideoSource

_DEVICE = [
    Options(str, {"auto", "cpu"}),
    Options(str, {f"cuda:{i}" for i in range(16)} | {"cuda"}),
]
_CHANNELS = [ListOf(Interval(Integral, 1, 1024), max_len=6)]
_SCORE_CHUNK = 64
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as video.input uses


def to_model_frames(frames: np.ndarray, size: tuple[int, int], gray: bool) -> np.ndarray:
    """(n, H, W, C) float32 in [0, 1] -> (n, c, h, w) float32 in [-1, 1] at ``size``."""
    import cv2

    h, w = size
    out = []
    for frame in frames:
        img = frame @ _LUMA if gray and frame.shape[2] == 3 else frame
        if img.shape[:2] != (h, w):
            interp = cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR
            img = cv2.resize(img, (w, h), interpolation=interp)
        if img.ndim == 2:
            img = img[:, :, None]
        out.append(np.transpose(img, (2, 0, 1)))
    return np.stack(out).astype(np.float32) * 2.0 - 1.0


def looks_gray(source: VideoSource, n_probe: int = 4) -> bool:
    """Whether the clips' colour frames are grey (equal channels) on a few probed frames."""
    if source.channels == 1:
        return True
    for i in range(min(len(source), n_probe)):
        frame = source.frame(i, 0)
        if np.abs(frame - frame[:, :, :1]).max() > 2.0 / 255:
            return False
    return True


@register(
    "ctd2gan",
    modality="video",
    paper=(
        "Feng et al. Convolutional Transformer based Dual Discriminator Generative "
        "Adversarial Networks for Video Anomaly Detection. ACM Multimedia 2021"
    ),
    year=2021,
    can_localise=True,
)
class CTD2GAN(VideoDetector):
    """Future-frame prediction by a convolutional transformer GAN with image and video
    discriminators; score = -PSNR of the prediction, map = squared error per pixel.

    Parameters
    ----------
    n_past:
        Past frames the generator sees (the paper predicts from a short clip; 4 here).
    height, width:
        Frame size the networks work at (multiples of ``2 ** (len(channels) - 1)``); the
        paper uses 256 x 256.
    grayscale:
        ``"auto"`` works on one channel when the training frames are grey (equal colour
        channels), ``True``/``False`` force it.
    channels:
        Encoder widths per level (paper: 64, 128, 256, 512); the decoder mirrors them.
    heads, attn_layers:
        Heads and layers of the temporal self-attention.
    residual:
        Predict the change from the last past frame (the decoder's last layer starts at
        zero: training starts from "nothing moves"); ``False`` decodes the frame directly,
        as the paper does. A departure for CPU budgets: it reaches a useful predictor in a
        few hundred iterations instead of tens of thousands.
    disc_channels:
        Widths of both discriminators.
    iterations, batch_size, lr_g, lr_d:
        Adam training (betas 0.5, 0.999) of the generator and of the discriminators.
    lambda_int, lambda_gd, lambda_img, lambda_vid:
        Weights of the intensity, gradient, image-adversarial and video-adversarial losses
        (0 for both adversarial weights trains the generator alone).
    normalise:
        ``"none"``: score = -PSNR (comparable across clips, fit for thresholds);
        ``"clip"``: per-clip min-max normalised PSNR as in the literature.
    checkpoint, checkpoint_every:
        Path of a resumable training checkpoint (written every ``checkpoint_every``
        iterations and at the end; an existing one with the same settings and data is
        resumed by ``fit``), or ``None``.
    device, threads, verbose, seed:
        Torch device, CPU threads (``None``: torch's default; 1 by default, as the other
        torch detectors), progress bar, random seed.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "n_past": 2,
        "height": 16,
        "width": 16,
        "channels": [8, 16],
        "disc_channels": [8, 16],
        "heads": 2,
        "iterations": 4,
        "batch_size": 4,
        "threads": 1,
    }
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_past": [Interval(Integral, 1, 32)],
        "height": [Interval(Integral, 8, 1024)],
        "width": [Interval(Integral, 8, 1024)],
        "grayscale": [Options(str, {"auto"}), bool],
        "channels": _CHANNELS,
        "heads": [Interval(Integral, 1, 64)],
        "attn_layers": [Interval(Integral, 1, 16)],
        "residual": [bool],
        "disc_channels": _CHANNELS,
        "iterations": [Interval(Integral, 1, 10_000_000)],
        "batch_size": [Interval(Integral, 1, 4096)],
        "lr_g": [Interval(Real, 0, 10, closed="right")],
        "lr_d": [Interval(Real, 0, 10, closed="right")],
        "lambda_int": [Interval(Real, 0, 1e6)],
        "lambda_gd": [Interval(Real, 0, 1e6)],
        "lambda_img": [Interval(Real, 0, 1e6)],
        "lambda_vid": [Interval(Real, 0, 1e6)],
        "normalise": [Options(str, {"none", "clip"})],
        "checkpoint": [str, None],
        "checkpoint_every": [Interval(Integral, 1, 10_000_000)],
        "device": _DEVICE,
        "threads": [Interval(Integral, 1, 1024), None],
        "verbose": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        *,
        n_past: int = 4,
        height: int = 64,
        width: int = 96,
        grayscale: bool | str = "auto",
        channels: tuple[int, ...] | list[int] = (8, 16, 32),
        heads: int = 4,
        attn_layers: int = 1,
        residual: bool = True,
        disc_channels: tuple[int, ...] | list[int] = (8, 16, 32),
        iterations: int = 1000,
        batch_size: int = 8,
        lr_g: float = 1e-3,
        lr_d: float = 2e-5,
        lambda_int: float = 1.0,
        lambda_gd: float = 1.0,
        lambda_img: float = 0.05,
        lambda_vid: float = 0.05,
        normalise: str = "none",
        checkpoint: str | None = None,
        checkpoint_every: int = 100,
        device: str = "auto",
        threads: int | None = 1,
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_past = n_past
        self.height = height
        self.width = width
        self.grayscale = grayscale
        self.channels = channels
        self.heads = heads
        self.attn_layers = attn_layers
        self.residual = residual
        self.disc_channels = disc_channels
        self.iterations = iterations
        self.batch_size = batch_size
        self.lr_g = lr_g
        self.lr_d = lr_d
        self.lambda_int = lambda_int
        self.lambda_gd = lambda_gd
        self.lambda_img = lambda_img
        self.lambda_vid = lambda_vid
        self.normalise = normalise
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.threads = threads
        self.verbose = verbose
        self.seed = seed

    # -- parameters ---------------------------------------------------------------------------
    @property
    def temporal_window(self) -> int:  # type: ignore[override]
        return int(self.n_past) + 1

    can_stream: ClassVar[bool] = True

    def _check_sizes(self) -> None:
        if not self.channels or not self.disc_channels:
            raise InputError("channels and disc_channels need at least one width each")
        step = 2 ** (len(self.channels) - 1)
        if self.height % step or self.width % step:
            raise InputError(
                f"height and width must be multiples of {step} (2 ** (len(channels) - 1)) for "
                f"channels={list(self.channels)}; got {self.height}x{self.width}"
            )
        if int(self.channels[-1]) % int(self.heads):
            raise InputError(
                f"the deepest width channels[-1]={self.channels[-1]} must be a multiple of "
                f"heads={self.heads}"
            )

    def _build_generator(self, in_channels: int) -> Any:
        from .ctd2gan_nets import build_generator

        return build_generator(
            in_channels,
            tuple(int(c) for c in self.channels),
            int(self.heads),
            int(self.attn_layers),
            bool(self.residual),
        )

    # -- training -----------------------------------------------------------------------------
    def _training_frames(self, source: VideoSource) -> list[np.ndarray]:
        size = (int(self.height), int(self.width))
        return [to_model_frames(source.frames(i), size, self.gray_) for i in range(len(source))]

    def _fit(self, source: VideoSource) -> None:
        self._check_sizes()
        self.gray_ = looks_gray(source) if self.grayscale == "auto" else bool(self.grayscale)
        in_channels = 1 if self.gray_ else int(source.channels)
        clips = self._training_frames(source)
        from . import ctd2gan_nets as nets
        from .ctd2gan_train import TrainConfig, Trainer

        config = TrainConfig(
            n_past=int(self.n_past),
            iterations=int(self.iterations),
            batch_size=int(self.batch_size),
            lr_g=float(self.lr_g),
            lr_d=float(self.lr_d),
            lambda_int=float(self.lambda_int),
            lambda_gd=float(self.lambda_gd),
            lambda_img=float(self.lambda_img),
            lambda_vid=float(self.lambda_vid),
            seed=int(self.seed),
        )
        signature = {
            "detector": "ctd2gan",
            "in_channels": in_channels,
            "size": [int(self.height), int(self.width)],
            "channels": [int(c) for c in self.channels],
            "disc_channels": [int(c) for c in self.disc_channels],
            "heads": int(self.heads),
            "attn_layers": int(self.attn_layers),
            "residual": bool(self.residual),
        }
        disc = tuple(int(c) for c in self.disc_channels)
        with torch_session(self.seed, threads=self.threads):
            self.device_ = resolve_device(self.device)
            generator = self._build_generator(in_channels).to(self.device_)
            image_disc = nets.build_image_discriminator(in_channels, disc).to(self.device_)
            video_disc = nets.build_video_discriminator(in_channels, disc).to(self.device_)
            trainer = Trainer(
                generator, image_disc, video_disc, clips, config, self.device_, signature
            )
            trainer.run(self.checkpoint, int(self.checkpoint_every), bool(self.verbose))
        self.generator_ = generator.eval()
        self.in_channels_ = in_channels
        self.n_iter_ = int(trainer.iteration)
        self.loss_curve_ = list(trainer.losses)

    # -- scoring ------------------------------------------------------------------------------
    def _predict_errors(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PSNR (n,) and squared-error maps (n, h, w) of predicting every frame of a clip
        ``frames`` (n, c, h, w) in [-1, 1] from its padded history."""
        torch = require_torch("video")
        n = len(frames)
        k = self.temporal_window
        windows = history(n, k)
        psnr = np.empty(n, np.float64)
        errs = np.empty((n, frames.shape[2], frames.shape[3]), np.float32)
        with torch_session(threads=self.threads), torch.no_grad():
            g = self.generator_
            for lo in range(0, n, _SCORE_CHUNK):
                hi = min(n, lo + _SCORE_CHUNK)
                first = int(windows[lo, 0])
                x = torch.from_numpy(frames[first:hi]).to(self.device_)
                skips = g.encode(x)
                rows = torch.from_numpy(windows[lo:hi] - first).to(self.device_)
                past = rows[:, :-1]
                deep = skips[-1][past]
                last = [s[past[:, -1]] for s in skips[:-1]]
                pred = g.decode(deep, last, x[past[:, -1]])
                target = x[rows[:, -1]]
                err = ((pred - target) / 2.0) ** 2  # on the [0, 1] pixel scale
                err = err.mean(dim=1)
                mse = err.mean(dim=(1, 2)).clamp_min(1e-10)
                psnr[lo:hi] = (10.0 * torch.log10(1.0 / mse)).double().cpu().numpy()
                errs[lo:hi] = err.cpu().numpy()
        return psnr, errs

    def _maps_at(self, errs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        import cv2

        h, w = size
        if errs.shape[1:] == (h, w):
            return errs.astype(np.float32)
        return np.stack(
            [cv2.resize(e, (w, h), interpolation=cv2.INTER_LINEAR) for e in errs]
        ).astype(np.float32)

    def _score_clip(self, data: VideoSource, i: int) -> tuple[np.ndarray, np.ndarray]:
        size = (int(self.height), int(self.width))
        frames = to_model_frames(data.frames(i), size, self.gray_)
        psnr, errs = self._predict_errors(frames)
        if self.normalise == "clip":
            span = float(psnr.max() - psnr.min())
            scores = 1.0 - (psnr - psnr.min()) / span if span > 0 else np.zeros_like(psnr)
        else:
            scores = -psnr
        return scores, self._maps_at(errs, tuple(data.size))

    def _score_window(self, window: np.ndarray) -> tuple[float, np.ndarray]:
        size = (int(self.height), int(self.width))
        frames = to_model_frames(window, size, self.gray_)
        psnr, errs = self._predict_errors(frames)
        # the window is exactly the history of its last frame
        return float(-psnr[-1]), self._maps_at(errs[-1:], window.shape[1:3])[0]

    # -- state --------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {
            "in_channels": int(self.in_channels_),
            "gray": bool(self.gray_),
            "n_iter": int(self.n_iter_),
        }
        return module_arrays(self.generator_, "g."), meta

    def _state_spec(self) -> StateSpec:
        self._check_sizes()
        grey = module_spec(lambda: self._build_generator(1), "g.")
        colour = module_spec(lambda: self._build_generator(3), "g.")
        arrays = {}
        for key, spec in grey.items():  # axes that follow the input channels get a name
            shape = tuple(
                "in_channels" if g != c else g
                for g, c in zip(spec.shape, colour[key].shape, strict=True)
            )
            arrays[key] = ArraySpec(shape, spec.dtype)
        allowed = {1, int(getattr(self, "fit_channels_", 3))}
        return StateSpec(
            arrays=arrays,
            meta={
                "in_channels": [Options(int, allowed)],
                "gray": [bool],
                "n_iter": [Interval(Integral, 0, 10_000_000)],
            },
            dim_bounds={"in_channels": (1, 3)},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_sizes()
        in_channels = int(meta["in_channels"])
        if int(arrays["g.head.bias"].shape[0]) != in_channels:
            raise ModelFileError(
                f"the generator's weights are for {arrays['g.head.bias'].shape[0]} channel(s) "
                f"but the metadata says {in_channels}"
            )
        with torch_session(threads=self.threads):
            self.device_ = resolve_device(self.device)
            generator = self._build_generator(in_channels)
            load_module_arrays(generator, arrays, "g.")
            self.generator_ = generator.to(self.device_).eval()
        self.in_channels_ = in_channels
        self.gray_ = bool(meta["gray"])
        self.n_iter_ = int(meta["n_iter"])
