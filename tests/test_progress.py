"""The one progress bar: silent off a terminal, shows fields on one."""

from __future__ import annotations

from normalcy.progress import progress_bar


def test_silent_when_not_verbose_or_not_a_terminal(capsys):
    for verbose in (False, True):  # pytest's stderr is not a terminal
        with progress_bar("train", 3, verbose) as update:
            for _ in range(3):
                update(loss=0.5)
    assert capsys.readouterr().err == ""


def test_runs_on_a_terminal(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with progress_bar("train", 4, True) as update:
        update(loss=0.25, val="-")
        update(advance=3, loss=0.125)
