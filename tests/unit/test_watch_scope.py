"""The watched namespaces: how a list is read, what falls outside it, and an informer that lists
and watches per namespace keeping each namespace's part of its cache apart (pure logic: the
integration test tests/integration/test_chart_install.py runs it under the chart's Roles)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import scope
from dpf_hcp_operator.cli import parse
from dpf_hcp_operator.informers import Informer


def test_a_comma_separated_list_is_read_in_order_without_repeats_or_blanks():
    assert scope.parse("tenant-a, dpf-system,,tenant-a") == ("tenant-a", "dpf-system")
    assert scope.parse("") == () and scope.parse(None) == ()
    assert scope.parse(["a", "b"]) == ("a", "b")


@pytest.mark.parametrize("bad", ["Tenant", "a_b", "-a", "a" * 64, "a/b", "../etc"])
def test_what_is_not_a_namespace_name_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="is not a namespace name"):
        scope.parse(f"ok,{bad}")


def test_the_cli_flag_and_its_environment_variable(monkeypatch):
    assert parse(["--watch-namespaces", "a,b"]).watch_namespaces == ("a", "b")
    monkeypatch.setenv(scope.ENV, "c")
    assert parse([]).watch_namespaces == ("c",)
    with pytest.raises(SystemExit):
        parse(["--watch-namespaces", "A"])


def test_a_provisioner_or_dpucluster_outside_the_scope_is_named_with_the_fix():
    cr = {"metadata": {"namespace": "stray"}, "spec": {"dpuClusterRef": {"namespace": "other", "name": "x"}}}
    assert scope.problems(cr, ()) == []
    found = dict(scope.problems(cr, ("tenant", "dpus")))
    assert set(found) == {"metadata.namespace", "spec.dpuClusterRef.namespace"}
    assert "'stray' is not watched by the operator (its namespaces: tenant, dpus)" in found["metadata.namespace"]
    assert "watchNamespaces" in found["spec.dpuClusterRef.namespace"]
    check = scope.dpucluster_check(cr, ("stray",))
    assert check is not None and not check.ok
    assert (
        check.conditions[0]["type"] == "DPUClusterMissing" and check.conditions[0]["reason"] == "DPUClusterNotWatched"
    )
    assert scope.dpucluster_check(cr, ("other",)) is None


class Lists:
    """Answers a list per namespace; a cluster-wide list is refused, as namespaced RBAC would."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[str | None] = []

    def list(self, _res: Any, namespace: str | None, *_a: Any, **_kw: Any) -> dict[str, Any]:
        self.calls.append(namespace)
        assert namespace is not None, "a cluster-wide list under namespaced RBAC"
        return {"metadata": {"resourceVersion": "9"}, "items": list(self.items.get(namespace, []))}


def _secret(ns: str, name: str, rv: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}}


def test_an_informer_over_namespaces_lists_each_and_a_relist_touches_only_its_own():
    client = Lists()
    client.items = {"a": [_secret("a", "x")], "b": [_secret("b", "y")]}
    informer = Informer(client, SECRET, namespaces=("a", "b"))  # type: ignore[arg-type]
    heard: list[tuple[str, str]] = []
    informer.add_handler(lambda kind, old, new: heard.append((kind, (new or old)["metadata"]["name"])))
    informer._relist("a")
    assert not informer.synced.is_set()  # b not listed yet
    informer._relist("b")
    assert informer.synced.is_set() and client.calls == ["a", "b"]
    client.items["a"] = []
    informer._relist("a")
    assert heard == [("ADDED", "x"), ("ADDED", "y"), ("DELETED", "x")]
    assert informer.get(("b", "y")) is not None and informer.get(("a", "x")) is None
    with pytest.raises(ValueError):
        Informer(client, SECRET, namespace="a", namespaces=("b",))  # type: ignore[arg-type]
