"""How the command line reads graphs: a TU-format folder (see ``normalcy.datasets.tu``)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError


def read(path: Path):
    """The graphs of the TU collection in the folder ``path``."""
    from ..datasets.tu import read_tu

    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path} is not a folder of TU-format files (NAME_A.txt, ...)")
    return read_tu(path)
