"""`make bench --baseline DIR`: another checkout's operator runs from that checkout's own venv and
collection, with nothing of this checkout on its import path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    monkeypatch.setattr(bench, "describe_baseline", lambda repo: {"commit": "7c781de"})
    repo = _checkout(tmp_path)
    args = ["--modes", "operator,floor", "--baseline", str(repo), "--dir", str(tmp_path), "--json"]
    assert bench.main([*args, str(tmp_path / "b.json")]) == 0
    assert ran == ["operator", "baseline", "floor"]
    with pytest.raises(SystemExit):
        bench.main(["--modes", "baseline", "--json", str(tmp_path / "c.json")])
    with pytest.raises(SystemExit):  # the floor copies what the operator made: refused before anything runs
        bench.main(["--modes", "floor", "--baseline", str(repo), "--json", str(tmp_path / "d.json")])
    assert ran == ["operator", "baseline", "floor"]


def _probe(repo: Path, operator_file: str) -> None:
    """The venv's python answers the probe as a venv importing ``operator_file`` would."""
    python = repo / ".venv" / "bin" / "python"
    answer = f'{{"python": "3.11.7", "ansible_core": "2.19.4", "operator": "{operator_file}"}}'
    python.write_text(f"#!/bin/sh\necho '{answer}'\n")
    python.chmod(0o755)


def test_the_baseline_is_described_by_what_its_venv_imports(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    _probe(repo, str(repo / "operator" / "dpf_hcp_operator" / "__init__.py"))
    described = bench.describe_baseline(repo)
    assert described["python"] == "3.11.7" and described["ansible_core"] == "2.19.4"
    assert set(described) == {"commit", "dirty", "python", "ansible_core"}


def test_a_venv_that_imports_another_checkouts_operator_is_refused(tmp_path: Path) -> None:
    """A .venv copied from elsewhere would run that checkout's operator under this one's name."""
    repo = _checkout(tmp_path)
    _probe(repo, "/work/elsewhere/operator/dpf_hcp_operator/__init__.py")
    with pytest.raises(SystemExit, match="outside it"):
        bench.describe_baseline(repo)


class _Env:
    """Enough of an Environment for Mode._start: the calls it makes, none of them to a server."""

    def __init__(self) -> None:
        self.management = self.hosted = self

    def client(self) -> None:
        return None

    def kubeconfig_path(self, *_: str) -> Path:
        return Path("/nonexistent/kubeconfig")

    def down(self) -> None:
        pass


def test_the_baseline_mode_starts_that_checkouts_operator_with_the_operators_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = _checkout(tmp_path)
    started: dict[str, Any] = {}

    class Operator:
        process, health_port, metrics_port, webhook_port, webhook_ca = None, 1, 2, 3, tmp_path / "ca.crt"

        def webhook_configuration(self) -> dict[str, Any]:
            return {}

    def start_operator(env: object, work_dir: Path, log: Path, *extra: str, **installation: Any) -> Operator:
        started.update(extra=extra, **installation)
        return Operator()

    monkeypatch.setattr(bench.Environment, "up", staticmethod(lambda _directory: _Env()))
    monkeypatch.setattr(bench, "apply", lambda *_: None)
    monkeypatch.setattr(bench, "start_standins", lambda *_: None)
    monkeypatch.setattr(bench, "start_operator", start_operator)
    monkeypatch.setattr(bench, "wait_ready", lambda *_, **__: None)
    monkeypatch.setattr(bench.workloads, "Stamps", lambda *_: None)
    args = bench.argparse.Namespace(baseline=repo, resync="1h")
    (tmp_path / "mode").mkdir()
    bench.Mode("baseline", tmp_path / "mode", args, None)
    assert started["python"] == str(repo / ".venv" / "bin" / "python")
    assert started["environ"]["ANSIBLE_COLLECTIONS_PATH"] == str(repo / ".venv" / "collections")
    assert started["extra"][0] == "--watches-file" and len(started["extra"]) == 2  # as the operator: no naive flags
    watches = yaml.safe_load(Path(started["extra"][1]).read_text())
    assert watches[0]["playbook"].startswith(str(repo)) and watches[0]["reconcilePeriod"] == "1h"
