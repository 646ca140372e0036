"""The local management and hosted clusters: `python -m dpf_hcp_dev.localcluster.cli up|down|status`
(`make cluster-up`, `make cluster-down`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dpf_hcp_dev.localcluster.controlplane import alive
from dpf_hcp_dev.localcluster.environment import Environment, default_directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dpf_hcp_dev.localcluster.cli", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=default_directory(), help="state directory")
    args = parser.parse_args(argv)
    state = args.dir / "state.json"
    if args.command == "up":
        if state.exists():
            env = Environment.load(args.dir)
            if all(alive(p) for p in {**env.management.pids, **env.hosted.pids}.values()):
                print(env.describe())
                return 0
            env.down()
        env = Environment.up(args.dir)
        print(env.describe())
        return 0
    if not state.exists():
        print(f"no local cluster in {args.dir}", file=sys.stderr)
        return 0 if args.command == "down" else 1
    env = Environment.load(args.dir)
    if args.command == "down":
        env.down()
        print("stopped")
        return 0
    print(env.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
