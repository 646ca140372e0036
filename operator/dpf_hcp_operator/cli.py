"""`dpf-hcp-operator`: flags -> configuration -> the running operator."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import ansible_collections.dpf_hcp.provisioner as collection
from dpf_hcp_operator import settings
from dpf_hcp_operator.app import run
from dpf_hcp_operator.settings import Config


def collection_root() -> Path:
    return Path(next(iter(collection.__path__)))


def parse(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """The settings (settings.py) from flags, their environment variables and defaults; a bad value
    stops with the flag, the value and the fix."""
    parser = argparse.ArgumentParser(
        prog="dpf-hcp-operator",
        description="Runs the dpf_hcp.provisioner playbooks for DPFHCPProvisioner resources, as watches.yaml says.",
    )
    settings.add_arguments(parser)
    try:
        config = settings.from_arguments(parser.parse_args(argv), environ)
    except ValueError as exc:
        parser.error(str(exc))
    if config.watches_file is None:
        config = dataclasses.replace(config, watches_file=collection_root() / "watches.yaml")
    return config


def main(argv: list[str] | None = None) -> int:
    config = parse(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
