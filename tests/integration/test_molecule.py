"""Molecule's default scenario (default driver, unmanaged: localhost) against the real API server
with the stand-ins: prepare, converge (playbooks/provision.yml), idempotence, verify, cleanup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO


def test_molecule_default_scenario(env, standins, tmp_path):
    bin_dir = Path(sys.executable).parent
    # Interpreter discovery would take the first of python3.14, python3.13, ... on PATH; pyenv's
    # shims answer to names they cannot run (CI's failure). Broken ones stand first here, so the
    # scenario passes only if it names its interpreter itself.
    broken = tmp_path / "broken-pythons"
    broken.mkdir()
    for name in ("python3.14", "python3.13", "python3"):
        shim = broken / name
        shim.write_text("#!/bin/sh\necho 'not this python' >&2\nexit 127\n")
        shim.chmod(0o755)
    inherited = {k: v for k, v in os.environ.items() if k != "ANSIBLE_PYTHON_INTERPRETER"}
    result = subprocess.run(
        [str(bin_dir / "molecule"), "test"],
        cwd=REPO,
        env={
            **inherited,
            "KUBECONFIG": str(env.management.kubeconfig_path()),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
            "PATH": os.pathsep.join((str(broken), str(bin_dir), os.environ.get("PATH", ""))),
            "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),  # fresh state: prepare runs
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
            "PY_COLORS": "0",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for action in ("syntax", "prepare", "converge", "idempotence", "verify", "cleanup"):
        assert f"default > {action}: Executed: Successful" in output, output[-3000:]
