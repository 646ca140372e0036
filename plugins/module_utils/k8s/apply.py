# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Make an object look as desired, writing only when it differs: the heart of idempotence."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE

FIELD_MANAGER = "dpf-hcp-provisioner"
# Whether an existing object may be taken over by an apply: raises ValueError when it may not.
Adopt = Callable[[dict[str, Any], dict[str, Any]], None]


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


_ABSENT = object()


def _at(obj: Any, parts: list[str]) -> Any:
    """The value at ``parts`` in ``obj``; _ABSENT when a step is missing or null; ValueError when
    a step before the last is not a mapping (the paths go through mappings only)."""
    node = obj
    for i, part in enumerate(parts):
        if node is None:
            return _ABSENT
        if not isinstance(node, dict):
            raise ValueError(
                f"{'.'.join(parts)}: {'.'.join(parts[:i])} is not a mapping; paths go through mappings only"
            )
        if part not in node:
            return _ABSENT
        node = node[part]
    return _ABSENT if node is None else node


def keep_existing(
    desired: dict[str, Any], current: dict[str, Any], create_only: tuple[str, ...] = (), set_once: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``desired`` with each path (dotted, through mappings only: ``spec.capabilities``) as
    ``current`` has it. Where ``current`` has none, a ``create_only`` path is left out (a field set
    only when the object is created, so an update neither adds, changes nor removes it) and a
    ``set_once`` path is written as desired (a field set when missing and never changed after, by
    us: a value someone else gave it stays). ValueError for a path through something else."""
    out = copy.deepcopy(desired)
    for path, write_when_absent in [*((p, False) for p in create_only), *((p, True) for p in set_once)]:
        parts = path.split(".")
        have = _at(current, parts)
        _at(out, parts)  # the same check on the definition
        if have is _ABSENT and write_when_absent:
            continue
        node: dict[str, Any] = out
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                if have is _ABSENT:
                    break
                node[part] = {}
            node = node[part]
        else:
            if have is _ABSENT:
                node.pop(parts[-1], None)
            else:
                node[parts[-1]] = copy.deepcopy(have)
    return out


@dataclass
class ApplyResult:
    changed: bool
    action: str  # created | updated | unchanged
    object: dict[str, Any]
    before: dict[str, Any] | None


def apply(
    client: KubeClient,
    desired: dict[str, Any],
    check_mode: bool = False,
    field_manager: str = FIELD_MANAGER,
    adopt: Adopt | None = None,
    create_only: tuple[str, ...] = (),
    set_once: tuple[str, ...] = (),
) -> ApplyResult:
    """Create the object, or server-side apply it when a field we own differs; an object that
    exists is taken over only if ``adopt(desired, current)`` does not raise. The fields named in
    ``create_only`` are written when the object is created, those in ``set_once`` when it has
    none; both are kept as they are afterwards (``keep_existing``).

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
    if adopt is not None:
        adopt(desired, current)
    if create_only or set_once:
        desired = keep_existing(desired, current, create_only, set_once)
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


# How the API server words a validating webhook's denial (k8s.io/apiserver
# pkg/admission/plugin/webhook/errors/statuserror.go, ToStatusErr).
DENIED = re.compile(r'^admission webhook "[^"]{1,253}" denied the request')


def apply_all(
    client: KubeClient,
    objects: list[dict[str, Any]],
    check_mode: bool = False,
    *,
    missing_kinds: str = "fail",
    missing_namespaces: str = "fail",
    admission_refusals: str = "fail",
    adopt: Adopt | None = None,
    create_only: tuple[str, ...] = (),
    set_once: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``apply`` each object, as the k8s_apply module reports it: results, diffs, and (when asked to
    skip or report them) the kinds not served, the namespaces missing and the admission refusals."""
    results, diffs, missing, missing_ns, refused, changed = [], [], [], [], [], False
    for obj in objects:
        try:
            res = apply(client, obj, check_mode=check_mode, adopt=adopt, create_only=create_only, set_once=set_once)
        except ApiError as exc:
            if admission_refusals == "report" and exc.status in (400, 403, 422) and DENIED.match(exc.message):
                meta = obj["metadata"]
                where = f"{meta.get('namespace', '')}/{meta.get('name', '')}".lstrip("/")
                refused.append(f"{obj['kind']} {where}: {exc.message[:500]}")
                continue
            if not exc.not_found:
                raise
            namespace = obj["metadata"].get("namespace")
            if missing_kinds == "skip" and _kind_missing(client, obj):
                missing.append(f"{obj['apiVersion']}/{obj['kind']}")
            elif missing_namespaces == "skip" and namespace and not client.get_or_none(NAMESPACE, namespace):
                missing_ns.append(namespace)
            else:
                raise
            continue
        changed = changed or res.changed
        meta = res.object.get("metadata") or {}
        results.append(
            {
                "action": res.action,
                "kind": obj["kind"],
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
            }
        )
        if res.changed and obj["kind"] != "Secret":
            header = f"{obj['kind']} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
            diffs.append(
                {
                    "before_header": header,
                    "after_header": header,
                    "before": _yaml(strip_server_fields(res.before)),
                    "after": _yaml(strip_server_fields(res.object)),
                }
            )
    return {
        "changed": changed,
        "results": results,
        "diff": diffs,
        "missing_kinds": sorted(set(missing)),
        "missing_namespaces": sorted(set(missing_ns)),
        "refused": refused,
    }


def _kind_missing(client: Any, obj: dict[str, Any]) -> bool:
    try:
        return not client.serves(client.resource(obj["apiVersion"], obj["kind"]))
    except ApiError as exc:
        return exc.not_found


def _yaml(obj: dict[str, Any] | None) -> str:
    return "" if obj is None else yaml_dump(obj, sort_keys=False)
