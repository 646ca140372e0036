"""`make bench --baseline DIR`: another checkout's operator runs from that checkout's own venv and
collection, with nothing of this checkout on its import path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dpf_hcp_dev.bench import __main__ as bench


def _checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "before"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").touch()
    (repo / "watches.yaml").write_text(
        yaml.safe_dump(
            [{"kind": "K", "playbook": "playbooks/r.yml", "finalizer": {"name": "f", "playbook": "playbooks/f.yml"}}]
        )
    )
    return repo


def test_the_baseline_runs_from_its_own_venv_and_collection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    monkeypatch.setenv("PYTHONPATH", "/here/operator:/here/dev")
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", "/here/.venv/collections")
    installation = bench.baseline_installation(repo)
    assert installation["python"] == str(repo / ".venv" / "bin" / "python")
    environ = installation["environ"]
    assert "PYTHONPATH" not in environ
    assert environ["ANSIBLE_COLLECTIONS_PATH"] == str(repo / ".venv" / "collections")
    assert environ["PATH"].split(":")[0] == str(repo / ".venv" / "bin")


def test_the_baseline_plays_its_own_playbooks(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    (tmp_path / "mode").mkdir()
    docs = yaml.safe_load(bench.watches_file(tmp_path / "mode", "1h", repo).read_text())
    assert docs[0]["playbook"] == str(repo / "playbooks" / "r.yml")
    assert docs[0]["finalizer"]["playbook"] == str(repo / "playbooks" / "f.yml")
    assert docs[0]["reconcilePeriod"] == "1h"


def test_a_baseline_without_a_venv_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make venv"):
        bench.baseline_installation(tmp_path)


def test_the_baseline_mode_runs_after_the_operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ran: list[str] = []

    class Recorded:
        def __init__(self, name: str, *_: object) -> None:
            ran.append(name)

        def close(self) -> None:
            pass

    monkeypatch.setattr(bench, "Mode", Recorded)
    monkeypatch.setattr(bench, "measure", lambda mode, a: {})
    repo = _checkout(tmp_path)
    args = ["--modes", "operator,floor", "--baseline", str(repo), "--dir", str(tmp_path), "--json"]
    assert bench.main([*args, str(tmp_path / "b.json")]) == 0
    assert ran == ["operator", "baseline", "floor"]
    with pytest.raises(SystemExit):
        bench.main(["--modes", "baseline", "--json", str(tmp_path / "c.json")])
