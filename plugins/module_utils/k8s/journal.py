# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""What a step decided on, in the journal of what a run read and wrote (``KubeClient.journal``).

A run that read an object, and saw it change again before its end, is run again by the operator
unless it can tell the change made no difference to it. By default only the last version counts:
every read of the object (after the run's last write of it) must have returned it. A step may say
that its outcome depended on some fields of the object alone (``decided_on``); a later version with
the same values there is then as good as the one it read. The values are compared by digest: the
reads of a kind record the digests of the fields registered for it (``FIELDS``), and a read of the
last version by another step of the same run supplies the values to compare with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query

#: kind -> the fields (JMESPath expressions) whose digests every journal entry of the kind
#: carries. Registered by the collection for what its steps decide on (provisioner/reads.py);
#: never fields of a Secret's data (a digest of a weak secret can be guessed).
FIELDS: dict[str, tuple[str, ...]] = {}


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def field_digests(obj: dict[str, Any]) -> dict[str, str]:
    """The digests of ``obj``'s registered fields (a missing field has the digest of null)."""
    return {f: digest(query.field(obj, f)) for f in FIELDS.get(str(obj.get("kind", "")), ())}


def decided_on(
    journal: list[dict[str, Any]] | None, kind: str, obj: dict[str, Any] | None, fields: tuple[str, ...]
) -> None:
    """Mark the journal's last read of ``obj`` (of ``kind``, by name, at its version) as one whose
    step's outcome depended on ``fields`` alone (at least one, each registered for the kind in
    FIELDS). Nothing to mark without a journal, or for an object found absent."""
    if journal is None or not isinstance(obj, dict):
        return
    if not fields or any(f not in FIELDS.get(kind, ()) for f in fields):
        raise ValueError(f"fields {list(fields)} of {kind} are not all recorded in the journal (journal.FIELDS)")
    entry = read_of(journal, kind, obj)
    if entry is not None:
        entry["decided_on"] = list(fields)


def read_of(journal: list[dict[str, Any]] | None, kind: str, obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The journal's last entry of a read (a GET) that returned ``obj`` (of ``kind``, by name, at its
    version); None without a journal, for no object, or for one a list returned."""
    if journal is None or not isinstance(obj, dict):
        return None
    meta = obj.get("metadata") or {}
    read = (kind, meta.get("namespace", ""), meta.get("name"), meta.get("resourceVersion"))
    for entry in reversed(journal):
        seen = (entry.get("kind"), entry.get("namespace"), entry.get("name"), entry.get("resourceVersion"))
        if entry.get("op") == "read" and seen == read:
            return entry
    return None


def _listed_in(journal: list[dict[str, Any]], kind: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The journal's last list of ``kind`` that returned ``obj`` at its version (KubeClient.list records
    its items as "namespace/name": resourceVersion)."""
    meta = obj.get("metadata") or {}
    key = f"{meta.get('namespace', '')}/{meta.get('name')}"
    for entry in reversed(journal):
        listed = entry.get("op") == "list" and entry.get("kind") == kind
        if listed and (entry.get("items") or {}).get(key) == meta.get("resourceVersion"):
            return entry
    return None


def same_outcome(
    journal: list[dict[str, Any]] | None, kind: str, earlier: dict[str, Any], later: dict[str, Any]
) -> None:
    """Mark the journal's read of ``earlier`` as one whose step's outcome a newer version of the same
    object (``later``, read by the step after it, and compared in memory with what it used) leaves
    as it was: the operator then takes ``later``'s version as seen by the step. For kinds whose
    fields a digest must not stand for (a Secret's data): nothing of the values is written. The read
    marked is the step's GET of ``earlier``, else the list that returned it (its item is marked);
    nothing for the same version."""
    before, after = earlier.get("metadata") or {}, later.get("metadata") or {}
    if (before.get("uid"), before.get("namespace"), before.get("name")) != (
        after.get("uid"),
        after.get("namespace"),
        after.get("name"),
    ):
        raise ValueError("same_outcome compares two versions of one object")
    if journal is None or after.get("resourceVersion") == before.get("resourceVersion"):
        return
    entry = read_of(journal, kind, earlier)
    if entry is not None:
        entry["same_as"] = after.get("resourceVersion")
        return
    listed = _listed_in(journal, kind, earlier)
    if listed is not None:  # the list's item: "namespace/name" -> the version it is as good as
        item = f"{before.get('namespace', '')}/{before.get('name')}"
        listed.setdefault("same_as", {})[item] = after.get("resourceVersion")
