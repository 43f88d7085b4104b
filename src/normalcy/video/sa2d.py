"""SA2D (Zhu, Raj & Wang, 2024): scenario-adaptive video anomaly detection; a frame
predictor meta-learned over scenarios so that a few normal clips of a new scene or camera
view adapt it in a few gradient steps.

SA2D casts adaptation as few-shot learning, after the scene-adaptive detector of Lu et al.
(ECCV 2020): every scenario (a scene, or one camera view of it) is a task; model-agnostic
meta-learning (MAML) trains the initial weights of a future-frame predictor so that K-shot
fine-tuning on a task's normal frames predicts that task's frames well
(``sa2d_meta.meta_train``). At deployment, ``adapt(clips)`` fine-tunes a copy of those
weights on K windows of the new scenario's normal clips (``sa2d_meta.adapt``); scoring is
then that of a frame-prediction detector (the error of the predicted frame; here the
scoring of ``CTD2GAN``: -PSNR per frame, squared-error maps).

The predictor is CT-D2GAN's convolutional transformer (``ctd2gan_nets``); ``pretrained``
starts meta-training from a fitted ``ctd2gan`` model file (the "pre-trained model" the
paper adapts) instead of random weights. The scenarios are the training clips (each clip
one scenario; pass clips of several scenes or views) and, through ``views``, synthetic
viewpoints of each (mirrors, a rotation, zooms on a region; ``sa2d_views``), which give a
single-scene data set (UCSD Ped2) the variety of camera views the paper's MSAD data set
has. The paper's MSAD data set is not available offline; docs/video.md describes the
evaluation protocol used instead.

References
----------
Zhu, L., Raj, A. & Wang, L. Advancing Anomaly Detection: An Adaptation Model and a New
Dataset. arXiv:2402.04857, 2024.

Lu, Y., Yu, F., Reddy, M. K. K. & Wang, Y. Few-Shot Scene-Adaptive Anomaly Detection.
ECCV 2020.

Finn, C., Abbeel, P. & Levine, S. Model-Agnostic Meta-Learning for Fast Adaptation of Deep
Networks. ICML 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, ListOf, Options, Real
from ..core.errors import InputError, ModelFileError, NotFittedError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..torch_helpers import load_module_arrays, module_arrays, resolve_device, torch_session
from .ctd2gan import _CHANNELS, _DEVICE, CTD2GAN, looks_gray, to_model_frames
from .input import VideoSource
from .sa2d_views import VIEWS, apply_view


@register(
    "sa2d",
    modality="video",
    paper=(
        "Zhu, Raj & Wang. Advancing Anomaly Detection: An Adaptation Model and a New "
        "Dataset. arXiv:2402.04857, 2024"
    ),
    year=2024,
    can_localise=True,
)
class SA2D(CTD2GAN):
    """Scenario-adaptive frame prediction: a CT-D2GAN predictor meta-learned (MAML) over
    scenarios, adapted to a new scene or view from K normal clips with ``adapt``.

    Parameters
    ----------
    n_past, height, width, grayscale, channels, heads, attn_layers, residual:
        The predictor (see ``ctd2gan``).
    pretrained:
        Path of a fitted ``ctd2gan`` model file whose generator starts meta-training (its
        architecture must match), or ``None`` (random initial weights).
    views:
        Synthetic viewpoints of every training clip used as extra scenarios (see
        ``normalcy.video.sa2d_views.VIEWS``); ``["identity"]`` uses the clips as given.
    shots:
        K: support (and query) windows per task, and windows per adaptation step.
    meta_iterations, meta_batch, meta_lr:
        Meta-training: iterations, tasks per iteration, Adam rate of the outer update.
    inner_steps, inner_lr:
        Gradient steps and rate of the inner (task) update.
    first_order:
        First-order MAML (the default; the full second-order gradient with ``False``).
    adapt_steps:
        Gradient steps (rate ``inner_lr``) that ``adapt`` takes on the new scenario.
    normalise, device, threads, verbose, seed:
        As for ``ctd2gan``.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "n_past": 2,
        "height": 16,
        "width": 16,
        "channels": [8, 16],
        "heads": 2,
        "views": ["identity", "hflip"],
        "shots": 2,
        "meta_iterations": 3,
        "meta_batch": 2,
        "adapt_steps": 2,
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
        "pretrained": [str, None],
        "views": [ListOf(Options(str, set(VIEWS)), max_len=len(VIEWS))],
        "shots": [Interval(Integral, 1, 1024)],
        "meta_iterations": [Interval(Integral, 1, 10_000_000)],
        "meta_batch": [Interval(Integral, 1, 1024)],
        "meta_lr": [Interval(Real, 0, 10, closed="right")],
        "inner_steps": [Interval(Integral, 1, 100)],
        "inner_lr": [Interval(Real, 0, 10, closed="right")],
        "first_order": [bool],
        "adapt_steps": [Interval(Integral, 1, 100_000)],
        "normalise": [Options(str, {"none", "clip"})],
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
        pretrained: str | None = None,
        views: tuple[str, ...] | list[str] = ("identity", "hflip", "vflip", "zoom_center"),
        shots: int = 4,
        meta_iterations: int = 100,
        meta_batch: int = 2,
        meta_lr: float = 1e-4,
        inner_steps: int = 1,
        inner_lr: float = 0.01,
        first_order: bool = True,
        adapt_steps: int = 20,
        normalise: str = "none",
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
        self.pretrained = pretrained
        self.views = views
        self.shots = shots
        self.meta_iterations = meta_iterations
        self.meta_batch = meta_batch
        self.meta_lr = meta_lr
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.first_order = first_order
        self.adapt_steps = adapt_steps
        self.normalise = normalise
        self.device = device
        self.threads = threads
        self.verbose = verbose
        self.seed = seed

    # CTD2GAN's size check reads these; SA2D has no discriminators
    disc_channels = (1,)

    def _check_sizes(self) -> None:
        super()._check_sizes()
        if not self.views:
            raise InputError("views needs at least one view (e.g. ['identity'])")

    def _config(self) -> Any:
        from .sa2d_meta import MetaConfig

        return MetaConfig(
            n_past=int(self.n_past),
            shots=int(self.shots),
            meta_iterations=int(self.meta_iterations),
            meta_batch=int(self.meta_batch),
            inner_steps=int(self.inner_steps),
            inner_lr=float(self.inner_lr),
            meta_lr=float(self.meta_lr),
            first_order=bool(self.first_order),
            seed=int(self.seed),
        )

    def _initial_weights(self, in_channels: int) -> dict[str, np.ndarray] | None:
        """Generator arrays of the ``pretrained`` ctd2gan model file, checked to fit."""
        if self.pretrained is None:
            return None
        from ..core.persistence import load_model

        base = load_model(self.pretrained)
        if getattr(base, "name", "") != "ctd2gan":
            raise InputError(
                f"pretrained must be a ctd2gan model file; {self.pretrained} holds "
                f"{getattr(base, 'name', '?')!r}"
            )
        for key in ("n_past", "height", "width", "heads", "attn_layers", "residual"):
            if getattr(base, key) != getattr(self, key):
                raise InputError(
                    f"pretrained model has {key}={getattr(base, key)!r} but this SA2D has "
                    f"{getattr(self, key)!r}; the architectures must match"
                )
        if [int(c) for c in base.channels] != [int(c) for c in self.channels]:
            raise InputError(
                f"pretrained model has channels={list(base.channels)} but this SA2D has "
                f"{list(self.channels)}"
            )
        if int(base.in_channels_) != in_channels:
            raise InputError(
                f"pretrained model works on {base.in_channels_} channel(s), these clips on "
                f"{in_channels}"
            )
        return module_arrays(base.generator_, "g.")

    def _tasks(self, source: VideoSource) -> list[Any]:
        from .sa2d_meta import Task

        tasks = []
        for i, frames in enumerate(self._training_frames(source)):
            hwc = np.transpose(frames, (0, 2, 3, 1))
            for view in self.views:
                viewed = np.ascontiguousarray(np.transpose(apply_view(hwc, view), (0, 3, 1, 2)))
                tasks.append(Task([viewed], int(self.n_past) + 1, f"{source.names[i]}:{view}"))
        return tasks

    def _fit(self, source: VideoSource) -> None:
        self._check_sizes()
        from .sa2d_meta import meta_train

        self.gray_ = looks_gray(source) if self.grayscale == "auto" else bool(self.grayscale)
        in_channels = 1 if self.gray_ else int(source.channels)
        initial = self._initial_weights(in_channels)
        tasks = self._tasks(source)
        with torch_session(self.seed, threads=self.threads):
            self.device_ = resolve_device(self.device)
            model = self._build_generator(in_channels)
            if initial is not None:
                load_module_arrays(model, initial, "g.")
            model = model.to(self.device_)
            self.loss_curve_ = meta_train(model, tasks, self._config(), self.device_, self.verbose)
        self.meta_generator_ = model.eval()
        self.generator_ = self.meta_generator_
        self.adapted_ = False
        self.in_channels_ = in_channels
        self.n_iter_ = int(self.meta_iterations)

    # -- adaptation ---------------------------------------------------------------------------
    def adapt(self, clips: Any) -> SA2D:
        """Fine-tune the meta-learned predictor on a few normal ``clips`` of the new scenario
        (``adapt_steps`` steps on batches of ``shots`` windows); scoring then uses the
        adapted predictor. Returns ``self``; ``reset_adaptation`` goes back."""
        if not self.is_fitted:
            raise NotFittedError("SA2D is not fitted; call fit(clips of the source scenarios)")
        from .sa2d_meta import adapt

        source = self._check_score_input(clips)
        size = (int(self.height), int(self.width))
        frames = [to_model_frames(source.frames(i), size, self.gray_) for i in range(len(source))]
        with torch_session(self.seed, threads=self.threads):
            self.generator_ = adapt(
                self.meta_generator_,
                frames,
                int(self.n_past),
                int(self.shots),
                int(self.adapt_steps),
                float(self.inner_lr),
                int(self.seed),
                self.device_,
            )
        self.adapted_ = True
        return self

    def reset_adaptation(self) -> SA2D:
        """Score with the meta-learned (unadapted) predictor again."""
        self.generator_ = self.meta_generator_
        self.adapted_ = False
        return self

    # -- state --------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = module_arrays(self.meta_generator_, "g.")
        if self.adapted_:
            arrays.update(module_arrays(self.generator_, "a."))
        meta = {
            "in_channels": int(self.in_channels_),
            "gray": bool(self.gray_),
            "n_iter": int(self.n_iter_),
            "adapted": bool(self.adapted_),
        }
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        base = super()._state_spec()
        arrays = dict(base.arrays)
        for key, spec in base.arrays.items():
            arrays["a." + key[2:]] = ArraySpec(spec.shape, spec.dtype, optional=True)
        return StateSpec(
            arrays=arrays,
            meta={**base.meta, "adapted": [bool]},
            dim_bounds=base.dim_bounds,
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        adapted = {k: v for k, v in arrays.items() if k.startswith("a.")}
        if bool(meta["adapted"]) != bool(adapted):
            raise ModelFileError(
                "the state's 'adapted' flag does not match its arrays (the adapted predictor's "
                "weights must be present exactly when adapted is true)"
            )
        if adapted and {k[2:] for k in adapted} != {k[2:] for k in arrays if k.startswith("g.")}:
            raise ModelFileError("the adapted predictor's weights are incomplete")
        super()._set_state({k: v for k, v in arrays.items() if k.startswith("g.")}, meta)
        self.meta_generator_ = self.generator_
        self.adapted_ = bool(meta["adapted"])
        if self.adapted_:
            with torch_session(threads=self.threads):
                model = self._build_generator(int(meta["in_channels"]))
                load_module_arrays(model, adapted, "a.")
                self.generator_ = model.to(self.device_).eval()
