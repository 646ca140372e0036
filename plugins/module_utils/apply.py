# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Make an object look as desired, writing only when it differs: the heart of idempotence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import LABEL_NAME, LABEL_NAMESPACE

FIELD_MANAGER = "dpf-hcp-provisioner"
OWNER_LABELS = (LABEL_NAMESPACE, LABEL_NAME)


class NotOwnedError(ValueError):
    """An object we would write exists and is another's: it carries no, or other, owner labels."""


def check_owned(desired: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to take over ``current`` when ``desired`` is marked as a provisioner's (both owner
    labels) and ``current`` is not marked as the same provisioner's. Names we derive can be
    chosen by a tenant (a provisioner named like someone's HostedCluster, or two provisioners
    whose derived names meet): an apply must never adopt what it did not make."""
    want = (desired.get("metadata") or {}).get("labels") or {}
    if not all(label in want for label in OWNER_LABELS):
        return  # not an object a provisioner owns (e.g. a patch of someone else's object)
    have = (current.get("metadata") or {}).get("labels") or {}
    if all(have.get(label) == want[label] for label in OWNER_LABELS):
        return
    meta = current.get("metadata") or {}
    owner = "/".join(str(have.get(label, ""))[:63] for label in OWNER_LABELS)
    raise NotOwnedError(
        f"{current.get('kind') or desired.get('kind')} {meta.get('namespace', '')}/{meta.get('name')} exists and is "
        f"not this provisioner's ({'labelled for ' + owner if owner.strip('/') else 'no provisioner labels'}): "
        f"it is left untouched; delete or rename it, or give the provisioner another name or namespace"
    )


# Lists the API server merges by key under server-side apply, where other managers keep their own
# entries (HyperShift puts its ownerReference on a NodePool, controllers add finalizers): ours
# being there is enough. kubernetes staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go
# (ObjectMeta: ownerReferences +listType=map +listMapKey=uid, finalizers +listType=set).
MERGED_LISTS: dict[str, str | None] = {"ownerReferences": "uid", "finalizers": None}


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field set in ``desired`` has the same value in ``actual``.

    Maps compare key by key (the server may add fields); lists compare item by item with
    the same length, so a removed entry counts as a difference.
    """
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(k in actual and is_subset(v, actual[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return desired == actual


def _entry_key(entry: Any, key: str | None) -> Any:
    return entry.get(key) if key and isinstance(entry, dict) else repr(entry)


def is_applied(desired: dict[str, Any], actual: dict[str, Any]) -> bool:
    """``is_subset``, except that in ``metadata`` the lists of MERGED_LISTS only need each desired
    entry (matched by its key, or whole) among the actual ones: other managers' entries stay."""
    meta, live = desired.get("metadata") or {}, actual.get("metadata") or {}
    for field, key in MERGED_LISTS.items():
        wanted, found = meta.get(field), live.get(field)
        if wanted is None:
            continue
        if not isinstance(wanted, list) or not isinstance(found, list):
            return False
        present = {_entry_key(a, key): a for a in found}
        if not all(_entry_key(d, key) in present and is_subset(d, present[_entry_key(d, key)]) for d in wanted):
            return False
    rest_meta = {k: v for k, v in meta.items() if k not in MERGED_LISTS}
    return is_subset({**desired, "metadata": rest_meta}, actual)


@dataclass
class ApplyResult:
    changed: bool
    action: str  # created | updated | unchanged
    object: dict[str, Any]
    before: dict[str, Any] | None


def apply(
    client: KubeClient, desired: dict[str, Any], check_mode: bool = False, field_manager: str = FIELD_MANAGER
) -> ApplyResult:
    """Create the object, or server-side apply it when a field we own differs.

    Check mode runs the same write as a server-side dry run: the API server validates
    it and answers what would be stored, and nothing is stored.
    """
    res = client.resource(desired["apiVersion"], desired["kind"])
    meta = desired["metadata"]
    current = client.get_or_none(res, meta["name"], meta.get("namespace"))
    if current is None:
        try:
            created = client.create(res, desired, dry_run=check_mode)
        except ApiError as exc:
            if not exc.conflict:
                raise
            # Created meanwhile by someone else: fall through to an update.
            current = client.get(res, meta["name"], meta.get("namespace"))
        else:
            return ApplyResult(True, "created", created, None)
    check_owned(desired, current)
    if is_applied(desired, current):
        return ApplyResult(False, "unchanged", current, current)
    updated = client.patch(
        res,
        meta["name"],
        desired,
        meta.get("namespace"),
        kind="apply",
        dry_run=check_mode,
        field_manager=field_manager,
        force=True,
    )
    return ApplyResult(True, "updated", updated, current)


def strip_server_fields(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without the bookkeeping the server adds, for diffs a user reads."""
    if obj is None:
        return None
    out = dict(obj)
    meta = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k not in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
    }
    out["metadata"] = meta
    out.pop("status", None)
    return out
