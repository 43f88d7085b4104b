"""The test tree itself: pytest imports test modules by basename (rootdir-relative, no
packages), so two ``test_x.py`` in different folders make one of them fail to collect."""

from collections import Counter
from pathlib import Path


def test_test_module_basenames_are_unique():
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1], "rename the duplicated test modules"
