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
    result = subprocess.run(
        [str(bin_dir / "molecule"), "test"],
        cwd=REPO,
        env={
            **os.environ,
            "KUBECONFIG": str(env.management.kubeconfig_path()),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
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
