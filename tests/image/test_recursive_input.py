"""Recursive folders and glob filters: selection, order, names, links, non-image files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import normalcy as nc
from normalcy.image.input import as_images, glob_regex, list_image_entries
from normalcy.image.reader import read


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "root"
    img = Image.fromarray(np.full((16, 16, 3), 120, np.uint8))
    for rel in ["b.png", "a.png", "sub/c.png", "sub/deeper/d.jpg", "z/e.PNG", ".hidden.png",
                ".cache/f.png"]:  # fmt: skip
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG" if rel.lower().endswith("png") else "JPEG")
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "data.csv").write_text("a,b\n")
    os.symlink(root, root / "sub" / "loop")  # a link back up: entered once, no loop
    os.symlink(root / "missing.png", root / "dangling.png")
    return root


def test_plain_folder_lists_only_its_own_images(tree):
    assert [n for n, _ in list_image_entries(tree)] == ["a.png", "b.png"]


def test_recursive_lists_every_image_below_sorted_by_relative_path(tree):
    names = [n for n, _ in list_image_entries(tree, recursive=True)]
    assert names == ["a.png", "b.png", "sub/c.png", "sub/deeper/d.jpg", "z/e.PNG"]
    source = as_images(tree, recursive=True)
    assert source.names == names and len(source) == 5


def test_glob_filters_by_relative_path(tree):
    def pick(pattern, recursive=True):
        return [n for n, _ in list_image_entries(tree, recursive=recursive, pattern=pattern)]

    assert pick("**/*.png") == ["a.png", "b.png", "sub/c.png"]
    assert pick("sub/*") == ["sub/c.png"]
    assert pick("sub/**") == ["sub/c.png", "sub/deeper/d.jpg"]
    assert pick("[ab].png") == ["a.png", "b.png"]
    assert pick("*.png", recursive=False) == ["a.png", "b.png"]
    assert pick("**/*.txt") == []  # only image files are ever selected


def test_glob_regex_rules():
    rx = glob_regex("**/x?.png")
    assert rx.match("x1.png") and rx.match("a/b/x1.png") and not rx.match("a/x12.png")
    assert not glob_regex("*.png").match("a/b.png")
    assert glob_regex("[!a]*.png").match("b.png") and not glob_regex("[!a]*.png").match("a.png")


def test_nothing_selected_or_a_file_is_a_clear_input_error(tree):
    with pytest.raises(nc.InputError, match=r"matching '\*\*/\*.bmp'"):
        as_images(tree, recursive=True, pattern="**/*.bmp")
    with pytest.raises(nc.InputError, match="need a folder"):
        as_images(tree / "a.png", recursive=True)
    with pytest.raises(nc.InputError, match="is a file"):
        read(tree / "a.png", recursive=True)


def test_reader_returns_the_selection_and_keeps_the_plain_path(tree):
    assert read(tree) == str(tree)
    assert read(tree, recursive=True, pattern="sub/**").names == ["sub/c.png", "sub/deeper/d.jpg"]
