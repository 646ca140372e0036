"""The changelog is antsibull-changelog's: CHANGELOG.md is what changelogs/ renders, and the fragments lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL = Path(sys.executable).parent / "antsibull-changelog"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_rendered_changelog_is_current(tmp_path: Path):
    """Regenerating CHANGELOG.md from changelogs/ changes nothing (else: antsibull-changelog generate)."""
    shutil.copy(REPO / "galaxy.yml", tmp_path / "galaxy.yml")
    shutil.copytree(REPO / "changelogs", tmp_path / "changelogs")
    shutil.copy(REPO / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    done = run("generate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "CHANGELOG.md").read_text() == (REPO / "CHANGELOG.md").read_text(), (
        "CHANGELOG.md is not what changelogs/ renders: run .venv/bin/antsibull-changelog generate"
    )
    assert (tmp_path / "changelogs" / "changelog.yaml").read_text() == (
        REPO / "changelogs" / "changelog.yaml"
    ).read_text(), "changelogs/changelog.yaml is not in antsibull-changelog's form: run antsibull-changelog reformat"


def test_the_fragments_and_the_release_history_lint_clean():
    for args in (("lint",), ("lint-changelog-yaml", "changelogs/changelog.yaml")):
        done = run(*args, cwd=REPO)
        assert (done.returncode, done.stdout + done.stderr) == (0, ""), args
