"""watches.yaml in operator-sdk's schema: which kind runs which playbook, and how."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KNOWN_KEYS = {
    "version",
    "group",
    "kind",
    "playbook",
    "role",
    "vars",
    "reconcilePeriod",
    "manageStatus",
    "watchDependentResources",
    "watchClusterScopedResources",
    "finalizer",
    "selector",
    "maxConcurrentReconciles",
    "snakeCaseParameters",
    "markUnsafe",
    "blacklist",
}
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


class WatchesError(ValueError):
    """watches.yaml is not usable; the message names the entry and the field."""


def parse_duration(text: str | int | float | None, where: str) -> float:
    """Go-style durations as operator-sdk takes them: 30s, 10m, 1h30m; 0 disables."""
    if text in (None, "", 0, "0"):
        return 0.0
    if isinstance(text, int | float):
        return float(text)
    m = DURATION.match(str(text).strip())
    if not m or not any(m.groups()):
        raise WatchesError(f"{where}: {text!r} is not a duration; use e.g. 30s, 10m or 1h")
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


def selector_string(selector: dict[str, Any] | None, where: str) -> str | None:
    """A metav1.LabelSelector as the API's labelSelector query string."""
    if not selector:
        return None
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise WatchesError(f"{where}: selector operator {op!r} is not In, NotIn, Exists or DoesNotExist")
    return ",".join(parts)


@dataclass(frozen=True)
class Finalizer:
    name: str
    playbook: Path | None
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Watch:
    group: str
    version: str
    kind: str
    playbook: Path
    vars: dict[str, Any] = field(default_factory=dict)
    reconcile_period: float = 0.0
    manage_status: bool = True
    watch_dependent_resources: bool = True
    finalizer: Finalizer | None = None
    selector: str | None = None
    max_concurrent_reconciles: int | None = None
    snake_case_parameters: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> str:
        return f"{self.api_version}, Kind={self.kind}"

    @property
    def object_var(self) -> str:
        """The extra var holding the whole object: _<group with _>_<kind lowercase>."""
        return "_" + re.sub(r"[^a-z0-9]", "_", f"{self.group}_{self.kind}".lower())


def _path(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise WatchesError(f"{where}: must be a path to a playbook")
    path = Path(value)
    path = path if path.is_absolute() else (base / path)
    if not path.is_file():
        raise WatchesError(f"{where}: {value!r} does not exist (resolved to {path})")
    return path.resolve()


def load(path: Path) -> list[Watch]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise WatchesError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise WatchesError(f"{path}: expected a list of watches")
    base = path.parent
    watches = []
    for i, entry in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise WatchesError(f"{where}: expected a mapping")
        unknown = set(entry) - KNOWN_KEYS
        if unknown:
            raise WatchesError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
        for key in ("version", "kind"):
            if not entry.get(key):
                raise WatchesError(f"{where}: {key} is required")
        if entry.get("role"):
            raise WatchesError(f"{where}.role: this operator runs playbooks; wrap the role in a playbook")
        if entry.get("markUnsafe", True) is not True:
            raise WatchesError(
                f"{where}.markUnsafe: {entry['markUnsafe']!r}: this operator hands everything it reads from the"
                " API to Ansible as untrusted data, never as a template; remove markUnsafe or set it to true"
            )
        fin = entry.get("finalizer")
        finalizer = None
        if fin:
            if not fin.get("name"):
                raise WatchesError(f"{where}.finalizer.name is required")
            if fin.get("role"):
                raise WatchesError(f"{where}.finalizer.role: give a playbook")
            fpath = _path(base, fin["playbook"], f"{where}.finalizer.playbook") if fin.get("playbook") else None
            finalizer = Finalizer(fin["name"], fpath, dict(fin.get("vars") or {}))
        watches.append(
            Watch(
                group=entry.get("group", ""),
                version=entry["version"],
                kind=entry["kind"],
                playbook=_path(base, entry.get("playbook"), f"{where}.playbook"),
                vars=dict(entry.get("vars") or {}),
                reconcile_period=parse_duration(entry.get("reconcilePeriod"), f"{where}.reconcilePeriod"),
                manage_status=bool(entry.get("manageStatus", True)),
                watch_dependent_resources=bool(entry.get("watchDependentResources", True)),
                finalizer=finalizer,
                selector=selector_string(entry.get("selector"), f"{where}.selector"),
                max_concurrent_reconciles=entry.get("maxConcurrentReconciles"),
                snake_case_parameters=bool(entry.get("snakeCaseParameters", True)),
            )
        )
    return watches
