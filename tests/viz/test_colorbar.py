"""Every heat-map overlay carries a colour bar with its scale and the threshold marked."""

from __future__ import annotations

import matplotlib
import numpy as np

from normalcy.viz import colorbar_strip, heatmap_overlay


def test_overlay_appends_a_colour_bar_of_the_same_height():
    img = np.zeros((60, 50, 3), np.float32)
    amap = np.linspace(0, 1, 60 * 50, dtype=np.float32).reshape(60, 50)
    with_bar = heatmap_overlay(img, amap, vmin=0.0, vmax=1.0, threshold=0.5)
    plain = heatmap_overlay(img, amap, vmin=0.0, vmax=1.0, colorbar=False)
    assert plain.shape == (60, 50, 3)
    assert with_bar.shape[0] == 60 and with_bar.shape[1] > 50 + 10
    np.testing.assert_array_equal(with_bar[:, :50], plain)


def test_bar_runs_from_vmax_at_the_top_to_vmin_at_the_bottom_with_the_threshold_line():
    strip = colorbar_strip(100, 0.0, 2.0, threshold=0.5)
    jet = matplotlib.colormaps["jet"]
    top, bottom = strip[0, 5].astype(int), strip[-1, 5].astype(int)
    assert np.abs(top - np.array(jet(1.0)[:3]) * 255).max() <= 2
    assert np.abs(bottom - np.array(jet(0.0)[:3]) * 255).max() <= 2
    y = round((1 - 0.5 / 2.0) * 99)  # the threshold's row: a black line across the bar
    assert (strip[y, 3:13] == 0).all()
    assert not (strip[y - 10, 3:13] == 0).all()


def test_text_labels_are_drawn_and_a_threshold_off_scale_is_clamped():
    strip = colorbar_strip(30, 0.0, 1.0, threshold=5.0)
    assert (strip[:, 16:] < 128).any()  # the labels' dark pixels
    assert (strip[0, 3:13] == 0).all()  # clamped to the top edge
