"""``OnnxDetector`` needs no torch, scikit-learn or PyOD: it runs in a subprocess where
importing them fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

import normalcy as nc
from normalcy.export import export as export_model

SCRIPT = textwrap.dedent(
    """
    import json, sys
    for banned in ("torch", "torchvision", "sklearn", "pyod", "skl2onnx", "faiss"):
        sys.modules[banned] = None  # any import of them raises ImportError
    import numpy as np
    from normalcy.export.runtime import OnnxDetector
    out = {}
    for path, data in json.loads(sys.argv[1]).items():
        onx = OnnxDetector(path)
        res = onx.score(np.load(data))
        out[path] = {"scores": res.scores.tolist(), "labels": res.labels.tolist()}
    print(json.dumps(out))
    """
)


def test_scoring_without_torch(tmp_path):
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(200, 3)), rng.normal(size=(20, 3))
    jobs, expected = {}, {}
    for name in ("mcd", "lof"):
        det = nc.create(name).fit(train)
        det.calibrate(train[:100], fpr=0.05)
        path = str(export_model(det, tmp_path / f"{name}.onnx"))
        np.save(tmp_path / "test.npy", test)
        jobs[path] = str(tmp_path / "test.npy")
        expected[path] = det.score(test)
    images = (rng.random((6, 64, 64)) * 80 + 80).astype(np.uint8)
    det = nc.create("padim", verbose=False, image_size=64, n_features=20).fit(images)
    det.calibrate(np.concatenate([images, images]), fpr=0.2)
    path = str(export_model(det, tmp_path / "padim.onnx"))
    np.save(tmp_path / "images.npy", images[:2])
    jobs[path] = str(tmp_path / "images.npy")
    expected[path] = det.score(images[:2])
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    for path, res in expected.items():
        np.testing.assert_allclose(got[path]["scores"], res.scores, rtol=1e-4, atol=1e-4)
        assert got[path]["labels"] == res.labels.tolist()
