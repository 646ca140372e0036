"""Stand-in for pip's get-pip.py, which ansible-test downloads from ci-files.testing.ansible.com
(not reachable here): bootstraps pip from the interpreter's own ensurepip, then installs the
requested packages from the package index, as get-pip.py would.

dev/bootstrap/ansible-test.sh puts it where ansible-test caches get-pip.py."""

from __future__ import annotations

import subprocess
import sys

# get-pip.py's own options; the rest are pip install arguments.
OWN_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in OWN_OPTIONS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
