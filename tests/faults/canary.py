"""A canary template for every string an attacker can reach: planted generically in each string
leaf (and as an extra key and value in each mapping) of an object, kept where the API server's
schema takes it, counted where it refuses or prunes it. A canary that fires creates a marker file
(a lookup that runs `touch`) or leaves a rendered value (`c0007-rendered`) somewhere we look."""

from __future__ import annotations

import copy
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import Resource

Key = str | int
Where = tuple[Key, ...]
RENDERED = re.compile(r"c\d{4,}-rendered")  # what the render variant becomes once evaluated
# Set by the API server, or naming the object itself: the canary cannot go there.
SERVER_FIELDS: tuple[Where, ...] = (
    ("apiVersion",),
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "uid"),
    ("metadata", "resourceVersion"),
    ("metadata", "creationTimestamp"),
    ("metadata", "deletionTimestamp"),
    ("metadata", "generation"),
    ("metadata", "selfLink"),
    ("metadata", "managedFields", "**"),
    ("metadata", "finalizers", "**"),
    ("metadata", "ownerReferences", "**"),
)


def matches(where: Where, pattern: Where) -> bool:
    """``pattern``'s "*" matches one step, a final "**" any rest (or none)."""
    for i, step in enumerate(pattern):
        if step == "**":
            return True
        if i >= len(where) or (step != "*" and step != where[i]):
            return False
    return len(where) == len(pattern)


def dotted(where: Where) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(where))


def leaves(obj: Any, where: Where = ()) -> Iterator[tuple[Where, Any]]:
    """Every string leaf, and every mapping (as a place for an extra key), with its path."""
    if isinstance(obj, dict):
        yield where, obj
        for k, v in obj.items():
            yield from leaves(v, (*where, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, (*where, i))
    elif isinstance(obj, str):
        yield where, obj


def get_at(obj: Any, where: Where) -> Any:
    for k in where:
        try:
            obj = obj[k]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def set_at(obj: Any, where: Where, value: Any) -> None:
    for k in where[:-1]:
        obj = obj[k]
    obj[where[-1]] = value


@dataclass
class Canaries:
    """Canaries with their ids, where each went, and what the API server refused."""

    markers: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cn")))
    planted: dict[str, str] = field(default_factory=dict)  # id -> kind and path
    refused: Counter[str] = field(default_factory=Counter)  # kind -> leaves the schema refused or pruned
    kept: Counter[str] = field(default_factory=Counter)  # kind -> leaves holding a canary

    def make(self, where: str, variant: int | None = None, form: int | None = None) -> str:
        """A canary: all variants in one string (``variant`` None), else one of them, in turn
        from canary to canary (``variant`` shifts the turn); ``form`` picks one."""
        cid = f"c{len(self.planted):04d}"
        self.planted[cid] = where
        touch = f"lookup('ansible.builtin.pipe', 'touch {self.markers}/{cid}')"
        variants = [
            "{{ " + touch + " }}",
            "{% set _ = " + touch + " %}",
            "{# " + cid + " #}{{ " + touch + " }}",
            "{{ '" + cid + "' ~ '-rendered' }}",
        ]
        if form is not None:
            return variants[form]
        return " ".join(variants) if variant is None else variants[(variant + len(self.planted)) % len(variants)]

    def fired(self) -> list[str]:
        """Where each canary that ran a command was planted."""
        return sorted(f"{p.name}: {self.planted.get(p.name, '?')}" for p in self.markers.iterdir())

    def rendered(self, text: str) -> list[str]:
        """Where each canary whose value was rendered into ``text`` was planted."""
        return sorted({f"{m}: {self.planted.get(m.split('-')[0], '?')}" for m in RENDERED.findall(text)})

    def candidates(
        self, obj: dict[str, Any], kind: str, skip: tuple[Where, ...], variant: int | None
    ) -> list[tuple[Where, Any]]:
        """(path, value) for each string leaf and each mapping's extra keys, outside ``skip``."""
        out: list[tuple[Where, Any]] = []
        for where, value in list(leaves(obj)):
            if isinstance(value, dict):
                for extra in ("canary-x", None):  # a valid key with a canary value; a canary key
                    spot = (*where, extra or "")
                    if any(matches(spot, s) for s in (*SERVER_FIELDS, *skip)):
                        continue
                    key = (
                        f"canary-x{len(self.planted)}"
                        if extra
                        else self.make(f"{kind} key at {dotted(where)}", variant)
                    )
                    val = self.make(f"{kind} {dotted((*where, key))}", variant) if extra else "x"
                    out.append(((*where, key), val))
            elif not any(matches(where, s) for s in (*SERVER_FIELDS, *skip)):
                out.append((where, self.make(f"{kind} {dotted(where)}", variant)))
        return out

    def plant(
        self,
        client: KubeClient,
        res: Resource,
        obj: dict[str, Any] | Callable[[], dict[str, Any]],
        skip: tuple[Where, ...] = (),
        variant: int | None = None,
        subresource: str | None = None,
        create: bool = False,
        view: Callable[[dict[str, Any]], dict[str, Any]] = lambda o: o,
    ) -> dict[str, Any]:
        """Write ``obj`` with a canary in every place outside ``skip`` that the API server keeps
        (tried alone with a dry run when all at once is refused); returns the object written.
        ``obj`` may be a function reading it: the write is tried again on a conflict. ``view``
        shows an answer as ``obj`` is shaped (a Secret's data decoded into stringData)."""
        for _attempt in range(20):
            try:
                got = obj() if callable(obj) else obj
                return self._plant(client, res, got, skip, variant, subresource, create, view)
            except ApiError as exc:
                if not (exc.conflict and callable(obj)):
                    raise
        raise AssertionError(f"{res.kind}: 20 conflicts in a row")

    def _plant(
        self,
        client: KubeClient,
        res: Resource,
        obj: dict[str, Any],
        skip: tuple[Where, ...],
        variant: int | None,
        subresource: str | None,
        create: bool,
        view: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        kind = obj.get("kind", res.kind) + (f" {subresource}" if subresource else "")
        todo = self.candidates(obj, kind, skip, variant)

        def attempt(spots: list[tuple[Where, Any]], dry_run: bool) -> dict[str, Any] | None:
            body = copy.deepcopy(obj)
            for where, value in spots:
                set_at(body, where, value)
            try:
                if create:
                    got = client.create(res, body, dry_run=dry_run)
                else:
                    got = client.replace(res, body, subresource=subresource, dry_run=dry_run)
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                return None
            return got if all(get_at(view(got), w) == v for w, v in spots) else None

        if attempt(todo, dry_run=True) is not None:
            kept = todo
        else:
            kept = [spot for spot in todo if attempt([spot], dry_run=True) is not None]
        self.kept[kind] += len(kept)
        self.refused[kind] += len(todo) - len(kept)
        written = attempt(kept, dry_run=False)
        assert written is not None, f"{kind}: the canaries accepted one by one were refused together"
        return written
