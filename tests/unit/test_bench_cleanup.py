"""The bench leaves no control plane running when the operator under test does not start (a run
of `make bench` whose operator exited at once left kube-apiservers and etcds behind for an hour)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dpf_hcp_dev.bench import __main__ as bench


class Env:
    downs = 0

    def down(self) -> None:
        Env.downs += 1


def test_a_mode_whose_start_fails_takes_its_control_planes_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(bench.Environment, "up", staticmethod(lambda _directory: Env()))

    def broken(*_args: Any) -> None:
        raise RuntimeError("operator exited (0)")

    monkeypatch.setattr(bench.Mode, "_start", broken)
    with pytest.raises(RuntimeError, match="operator exited"):
        bench.Mode("operator", tmp_path, None, None)  # type: ignore[arg-type]
    assert Env.downs == 1
