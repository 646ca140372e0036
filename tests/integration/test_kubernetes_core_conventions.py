"""The collection's modules connect as kubernetes.core's do: the task's and the play's
``environment:`` (K8S_AUTH_*, KUBECONFIG) over the controller's, and kubeconfigs with an exec
credential plugin. Each test runs kubernetes.core's own module beside ours and asks both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CONFIGMAP,
    SERVICE_ACCOUNT,
    Resource,
)
from support import ansible_playbook, namespace, unique

ROLE = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDING = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")


def configmap(client: KubeClient, ns: str, name: str) -> None:
    client.create(CONFIGMAP, {"metadata": {"name": name, "namespace": ns}, "data": {"where": client.server}})


def info_tasks(ns: str, name: str, suffix: str, **options: Any) -> list[dict[str, Any]]:
    """Our k8s_info and kubernetes.core's, for the same ConfigMap, registered as ours_<suffix> and
    theirs_<suffix>; neither fails the play (a refusal shows as no ConfigMap found)."""
    selection = {"api_version": "v1", "kind": "ConfigMap", "namespace": ns, "name": name, **options}
    return [
        {"name": f"ours {suffix}", "dpf_hcp.provisioner.k8s_info": selection, "register": f"ours_{suffix}"},
        {"name": f"theirs {suffix}", "kubernetes.core.k8s_info": selection, "register": f"theirs_{suffix}"},
    ]


def write_playbook(tmp: Path, plays: list[dict[str, Any]], registers: list[str]) -> tuple[str, Path]:
    """The plays, then one that writes the names of the ConfigMaps each registered result holds
    into a JSON file (read by ``found``)."""
    out = tmp / f"{unique('found')}.json"
    names = ", ".join(f"'{r}': {r}.resources | map(attribute='metadata.name') | list" for r in registers)
    report = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.copy": {"dest": str(out), "content": "{{ {" + names + "} | to_json }}"}}],
    }
    path = tmp / f"{unique('play')}.yml"
    path.write_text(yaml.safe_dump([*plays, report], sort_keys=False))
    return str(path), out


def found(out: Path, register: str) -> list[str]:
    return json.loads(out.read_text())[register]


def test_environment_names_the_cluster_for_our_modules_as_for_kubernetes_core(env, mgmt, tmp):
    """The controller's KUBECONFIG is the management cluster (A); the play's and the task's
    ``environment:`` name the hosted API server (B). Ours and kubernetes.core's both reach B."""
    cluster_b = env.hosted.kubeconfig_path("system:admin")
    hosted = KubeClient.from_kubeconfig(str(cluster_b))
    ns = namespace(hosted, unique("envb"))
    only_in_b = unique("only-in-b")
    configmap(hosted, ns, only_in_b)
    written = unique("written")
    plays = [
        {
            "name": "the play's environment: K8S_AUTH_KUBECONFIG",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "environment": {"K8S_AUTH_KUBECONFIG": str(cluster_b)},
            "tasks": [
                *info_tasks(ns, only_in_b, "play"),
                {
                    "name": "ours writes",
                    "dpf_hcp.provisioner.k8s_apply": {
                        "definition": [
                            {
                                "apiVersion": "v1",
                                "kind": "ConfigMap",
                                "metadata": {"name": written, "namespace": ns},
                                "data": {"by": "k8s_apply"},
                            }
                        ]
                    },
                },
            ],
        },
        {
            "name": "the task's environment: KUBECONFIG",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {**task, "environment": {"KUBECONFIG": str(cluster_b)}} for task in info_tasks(ns, only_in_b, "task")
            ],
        },
        {
            "name": "no environment: the controller's cluster (A)",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": info_tasks(ns, only_in_b, "controller"),
        },
    ]
    registers = [f"{who}_{where}" for who in ("ours", "theirs") for where in ("play", "task", "controller")]
    playbook, out = write_playbook(tmp, plays, registers)
    result = ansible_playbook(playbook, env.management.kubeconfig_path())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for where in ("play", "task"):
        assert found(out, f"ours_{where}") == [only_in_b], where
        assert found(out, f"theirs_{where}") == [only_in_b], where
    assert found(out, "ours_controller") == found(out, "theirs_controller") == []
    assert hosted.get(CONFIGMAP, written, ns)["data"] == {"by": "k8s_apply"}
    assert mgmt.get_or_none(CONFIGMAP, written, ns) is None


def test_a_kubeconfig_with_an_exec_credential_plugin_is_used_as_kubernetes_core_uses_it(env, mgmt, tmp):
    """A kubeconfig whose user is an exec plugin (cloud providers' kubeconfigs are): the plugin runs
    with the play's environment, for every task, and its token is sent. Without it the requests
    would be anonymous, and refused."""
    ns = namespace(mgmt, unique("exec"))
    name = unique("readable")
    configmap(mgmt, ns, name)
    mgmt.create(SERVICE_ACCOUNT, {"metadata": {"name": "reader", "namespace": ns}})
    mgmt.create(
        ROLE,
        {
            "metadata": {"name": "reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
    )
    mgmt.create(
        ROLE_BINDING,
        {
            "metadata": {"name": "reader", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
        },
    )
    token = mgmt.request(
        "POST",
        SERVICE_ACCOUNT.path(ns, "reader", "token"),
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
    )["status"]["token"]
    marker = tmp / "plugin-ran"
    plugin = tmp / "credential-plugin"
    # The token comes from the task's environment: the plugin sees it as a module process would.
    credential = '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", '
    credential += '"status": {"token": "%s"}}'
    plugin.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nprintf '{credential}' \"$READER_TOKEN\"\n")
    plugin.chmod(0o700)
    admin = yaml.safe_load(env.management.kubeconfig_path().read_text())
    kubeconfig = tmp / "exec.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": admin["clusters"],
                "users": [
                    {
                        "name": "exec",
                        "user": {
                            "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}
                        },
                    }
                ],
                "contexts": [{"name": "exec", "context": {"cluster": admin["clusters"][0]["name"], "user": "exec"}}],
                "current-context": "exec",
            }
        )
    )
    plays = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "environment": {"READER_TOKEN": token},
            "tasks": info_tasks(ns, name, "exec", kubeconfig=str(kubeconfig)),
        }
    ]
    playbook, out = write_playbook(tmp, plays, ["ours_exec", "theirs_exec"])
    result = ansible_playbook(playbook, env.management.kubeconfig_path())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert found(out, "ours_exec") == found(out, "theirs_exec") == [name]
    assert marker.read_text().count("ran") >= 2  # once for ours, once for kubernetes.core's
    assert token not in result.stdout + result.stderr
