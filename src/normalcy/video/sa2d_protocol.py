"""The SA2D evaluation protocol on UCSD Ped2 (docs/video.md, "SA2D"): adaptation to new
viewpoints built from the shared clips.

MSAD (the paper's multi-scenario data) is not available offline, and Ped2 has one scene, so
new *viewpoints* are made with ``sa2d_views``: mirrors, a rotation and zooms on a region of
the frame (the same walkway as another camera would see it). Steps:

1. ``ctd2gan`` is fitted on the training clips as given (the *source* view) and scored on
   the test clips (the plain Ped2 figures, with fit time and frames per second);
2. SA2D meta-trains from that model (``pretrained``) over the source views
   (training clips x ``source_views``);
3. for every *target* view (never seen in steps 1-2): K-shot adaptation on the first
   ``adapt_frames`` frames of each training clip seen through the target view, then the
   test clips seen through the target view are scored. Compared: the source CT-D2GAN
   unadapted, the source CT-D2GAN fine-tuned on the same K shots with the same steps (plain
   transfer), SA2D unadapted and SA2D adapted.

Frame-level ROC-AUC micro (all test frames concatenated) and macro (mean over the clips that
hold both classes), on raw scores. Run: ``python -m normalcy.video.sa2d_protocol --out
benchmarks/results`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import copy
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

SOURCE_VIEWS = ("identity", "hflip", "zoom_center")
TARGET_VIEWS = ("vflip", "rot180", "zoom_left")


def frame_aucs(scores: np.ndarray, labels: list[np.ndarray]) -> tuple[float, float]:
    """(micro, macro) frame-level ROC-AUC; macro over clips holding both classes."""
    from sklearn.metrics import roc_auc_score

    y = np.concatenate(labels)
    micro = float(roc_auc_score(y, scores))
    parts, lo = [], 0
    for lab in labels:
        s = scores[lo : lo + len(lab)]
        lo += len(lab)
        if 0 < lab.sum() < len(lab):
            parts.append(roc_auc_score(lab, s))
    return micro, float(np.mean(parts)) if parts else float("nan")


def _read(folders: list[Path]) -> list[np.ndarray]:
    from .input import as_clips

    source = as_clips([str(f) for f in folders], name="clips")
    # Ped2 is grey (its JPEGs hold 3 equal channels): keep the first
    return [np.round(source.frames(i)[..., 0] * 255).astype(np.uint8) for i in range(len(source))]


def run(
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    *,
    quick: bool = False,
    ctd2gan_params: dict[str, Any] | None = None,
    sa2d_params: dict[str, Any] | None = None,
    adapt_frames: int = 24,
    model_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run the protocol; write ``sa2d_ped2.csv`` and ``sa2d_ped2.md`` in ``out_dir``."""
    import normalcy as nc

    from ..datasets import ped2
    from .sa2d_views import apply_view

    data = ped2.load(root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = _read(data.train_clips)
    test = _read(data.test_clips)
    labels = [lab.astype(int) for lab in data.test_labels]
    if quick:
        train = [c[:24, ::4, ::4] for c in train]
        test = [c[:, ::4, ::4] for c in test]
    base_params = dict(ctd2gan_params or {})
    rows: list[dict[str, Any]] = []

    def record(method: str, view: str, det: Any, clips: list[np.ndarray], fit_s: float) -> None:
        t0 = time.perf_counter()
        scores = det.score(clips).scores
        dt = time.perf_counter() - t0
        micro, macro = frame_aucs(scores, labels)
        rows.append(
            {
                "method": method,
                "view": view,
                "micro_auroc": round(micro, 4),
                "macro_auroc": round(macro, 4),
                "fit_s": round(fit_s, 1),
                "fps": round(sum(len(c) for c in clips) / dt, 1),
            }
        )
        print(rows[-1], flush=True)

    # 1. the source model (plain Ped2)
    if model_path is not None and Path(model_path).is_file():
        base, fit_s = nc.load(model_path), 0.0
    else:
        base = nc.create("ctd2gan", **base_params)
        t0 = time.perf_counter()
        base.fit(train)
        fit_s = time.perf_counter() - t0
        model_path = out / "ctd2gan_ped2.normalcy"
        base.save(model_path)
    record("ctd2gan", "identity", base, test, fit_s)

    # 2. SA2D meta-training over the source views, from the source model
    arch = {
        k: base.get_params()[k]
        for k in ("n_past", "height", "width", "grayscale", "channels", "heads", "attn_layers")
    }
    arch["residual"] = base.get_params()["residual"]
    sa2d = nc.create(
        "sa2d",
        **{
            **arch,
            "pretrained": str(model_path),
            "views": list(SOURCE_VIEWS),
            **(sa2d_params or {}),
        },
    )
    t0 = time.perf_counter()
    sa2d.fit(train)
    meta_s = time.perf_counter() - t0

    # 3. every target view
    for view in TARGET_VIEWS:
        shots = [apply_view(c[:adapt_frames], view) for c in train]
        viewed = [apply_view(c, view) for c in test]
        record("ctd2gan (source, unadapted)", view, base, viewed, 0.0)
        tuned = copy.deepcopy(sa2d)  # plain fine-tuning of the source model, same budget
        tuned.meta_generator_ = base.generator_
        tuned.adapt(shots)
        record("ctd2gan + K-shot fine-tuning", view, tuned, viewed, 0.0)
        sa2d.reset_adaptation()
        record("sa2d (meta-trained, unadapted)", view, sa2d, viewed, meta_s)
        t0 = time.perf_counter()
        sa2d.adapt(shots)
        record("sa2d (adapted)", view, sa2d, viewed, time.perf_counter() - t0)
        sa2d.reset_adaptation()

    with open(out / "sa2d_ped2.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| method | view | micro AUROC | macro AUROC | fit s | fps |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['method']} | {r['view']} | {r['micro_auroc']:.3f} | {r['macro_auroc']:.3f} "
            f"| {r['fit_s']} | {r['fps']} |"
            for r in rows
        ),
    ]
    (out / "sa2d_ped2.md").write_text("\n".join(lines) + "\n")
    return rows


def main() -> None:  # pragma: no cover - a command-line wrapper
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=None, help="a fitted ctd2gan model file to reuse")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--meta-iterations", type=int, default=None)
    args = parser.parse_args()
    ctd = {} if args.iterations is None else {"iterations": args.iterations}
    meta = {} if args.meta_iterations is None else {"meta_iterations": args.meta_iterations}
    if args.quick:
        ctd = {"height": 16, "width": 24, "channels": [8, 16], "heads": 2, "iterations": 3, **ctd}
        meta = {"meta_iterations": 2, "shots": 2, "adapt_steps": 2, **meta}
    run(
        args.root,
        args.out,
        quick=args.quick,
        ctd2gan_params=ctd,
        sa2d_params=meta,
        model_path=args.model,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
