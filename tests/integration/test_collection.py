"""The collection as Galaxy users get it: built into a tarball, installed into an empty
collections path, documented by ansible-doc, and used by FQCN from a playbook elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import REPO, dpucluster, namespace, secrets, unique

BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
FILTERS = sorted(p.stem for p in (REPO / "plugins" / "filter").glob("*.yml"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("galaxy")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", work, REPO], check=True, capture_output=True
    )
    (tarball,) = work.glob("dpf_hcp-provisioner-*.tar.gz")
    target = work / "collections"
    # Only the installed copy, never the checkout linked into the venv, for installing and using.
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(target),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    # Its dependency resolved as ansible-galaxy resolves it, offline (Galaxy is unreachable here):
    # kubernetes.core from the copy `make venv` installed from PyPI's `ansible` package.
    requirements = work / "requirements.yml"
    kubernetes_core = REPO / ".venv" / "collections" / "ansible_collections" / "kubernetes" / "core"
    requirements.write_text(
        yaml.safe_dump(
            {"collections": [{"name": str(tarball), "type": "file"}, {"name": str(kubernetes_core), "type": "dir"}]}
        )
    )
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", target, "-r", requirements],
        check=True,
        capture_output=True,
        env=env,
    )
    assert (target / "ansible_collections" / "dpf_hcp" / "provisioner" / "MANIFEST.json").exists()
    assert (target / "ansible_collections" / "kubernetes" / "core" / "MANIFEST.json").exists()
    return {"env": env, "target": str(target), "tarball": str(tarball)}


def test_kubernetes_core_is_a_declared_dependency(installed, tmp_path):
    """Without kubernetes.core at hand, ansible-galaxy refuses to install the collection, naming it."""
    out = subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", tmp_path, installed["tarball"]],
        capture_output=True,
        text=True,
        check=False,
        env={**installed["env"], "ANSIBLE_COLLECTIONS_PATH": str(tmp_path)},
    )
    assert out.returncode != 0
    assert "kubernetes.core:>=6.0.0,<7.0.0 (dependency of dpf_hcp.provisioner" in out.stdout + out.stderr


def test_the_tarball_holds_the_collection_and_not_the_project_around_it(installed):
    listing = subprocess.run(["tar", "tzf", installed["tarball"]], check=True, capture_output=True, text=True).stdout
    for path in (
        "MANIFEST.json",
        "meta/runtime.yml",
        "roles/validate/meta/argument_specs.yml",
        "plugins/modules/csr_approve.py",
        "playbooks/reconcile.yml",
        "playbooks/provision.yml",
        "tests/sanity/ignore-2.20.txt",  # ansible-test sanity runs on what is shipped
    ):
        assert path in listing.splitlines(), path
    for excluded in (".venv/", "operator/", "dev/", "tests/unit/", "tests/integration/", "tests/support.py", "helm/"):
        assert not any(line.startswith(excluded) for line in listing.splitlines()), excluded


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_documents_each_module(installed, module):
    out = subprocess.run(
        [BIN / "ansible-doc", f"dpf_hcp.provisioner.{module}"],
        env=installed["env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "OPTIONS" in out.stdout and "EXAMPLES" in out.stdout and "RETURN VALUES" in out.stdout


@pytest.mark.parametrize("name", FILTERS)
def test_ansible_doc_documents_each_filter(installed, name):
    out = subprocess.run(
        [BIN / "ansible-doc", "-t", "filter", f"dpf_hcp.provisioner.{name}"],
        env=installed["env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_a_playbook_elsewhere_uses_the_installed_collection(installed, env, mgmt, tmp_path):
    ns = namespace(mgmt, unique("galaxy"))
    dpu_ns = namespace(mgmt, unique("galaxy-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    release = "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64"
    provisioner = {
        "metadata": {"namespace": ns, "name": "hcp"},
        "spec": {
            "baseDomain": "clusters.example.com",
            "virtualIP": "192.168.1.101",
            "pullSecretRef": {"name": "pull-secret"},
            "sshKeySecretRef": {"name": "ssh-key"},
            "dpuClusterRef": {"name": "dpucluster", "namespace": dpu_ns},
            "ocpReleaseImage": release,
        },
    }
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Use dpf_hcp.provisioner from an installed collection",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Read a release version with the collection's filter",
                            "ansible.builtin.assert": {
                                "that": f"'{release}' | dpf_hcp.provisioner.release_version == '4.19.0-ec.5'"
                            },
                        },
                        {
                            "name": "Resolve the BlueField image with the collection's module",
                            "dpf_hcp.provisioner.bluefield_image": {
                                "release_image": release,
                                "configmap_namespace": "dpf-hcp-provisioner-system",
                            },
                            "register": "image",
                        },
                        {
                            "name": "Check the input with the collection's role",
                            "ansible.builtin.include_role": {"name": "dpf_hcp.provisioner.validate"},
                            "vars": {"dpfhcp_provisioner": provisioner},
                        },
                        {
                            "name": "Show what the collection found",
                            "ansible.builtin.assert": {
                                "that": [
                                    "image.image == 'quay.io/example/bluefield:4.19.0-ec.5'",
                                    "validate_passed | bool",
                                ],
                                "fail_msg": "{{ validate_conditions | default([]) | to_json }}",
                            },
                        },
                    ],
                }
            ]
        )
    )
    run_env = {**installed["env"], "K8S_AUTH_KUBECONFIG": str(env.management.kubeconfig_path())}
    out = subprocess.run(
        [BIN / "ansible-playbook", str(playbook)],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    listed = subprocess.run(
        [BIN / "ansible-galaxy", "collection", "list", "dpf_hcp.provisioner"],
        env=installed["env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert installed["target"] in listed  # the copy used is the installed one


def test_the_installed_provision_playbook_runs_by_fqcn_in_check_mode(installed, env, mgmt, tmp_path):
    ns = namespace(mgmt, unique("galaxy"))
    dpu_ns = namespace(mgmt, unique("galaxy-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    variables = yaml.safe_load((REPO / "examples" / "provision-vars.yml").read_text())
    variables.update(dpfhcp_namespace=ns)
    variables["dpfhcp_spec"].update(
        dpuClusterRef={"name": "dpucluster", "namespace": dpu_ns},
        pullSecretRef={"name": "pull-secret"},
        sshKeySecretRef={"name": "ssh-key"},
    )
    (tmp_path / "my-cluster.yml").write_text(yaml.safe_dump(variables))
    out = subprocess.run(
        [BIN / "ansible-playbook", "dpf_hcp.provisioner.provision", "-e", "@my-cluster.yml", "--check"],
        cwd=tmp_path,
        env={**installed["env"], "KUBECONFIG": str(env.management.kubeconfig_path())},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Check mode: nothing was changed" in out.stdout
