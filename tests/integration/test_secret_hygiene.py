"""Issue 9, item 6: no pull secret, SSH key or hosted kubeconfig content reaches the operator's
log, Events, the provisioner's status or ansible-runner's artifacts. The values are planted in
real secrets, a provisioner goes to Ready, and everything the operator left is searched."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import EVENT, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from support import (
    ansible_playbook,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)


def _texts(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the operator's work dir: ansible-runner's artifacts), as text."""
    return {str(p): p.read_bytes().decode(errors="replace") for p in root.rglob("*") if p.is_file()}


def planted_secrets(mgmt, ns: str) -> dict[str, str]:
    """A pull secret and an SSH key with values found nowhere else, in ``ns``."""
    registry_password = f"pw-{uuid.uuid4().hex}"
    auth = base64.b64encode(f"robot:{registry_password}".encode()).decode()
    ssh_key_body = f"AAAAC3NzaC1lZDI1NTE5{uuid.uuid4().hex}"
    secrets(
        mgmt,
        ns,
        pull={".dockerconfigjson": json.dumps({"auths": {"registry.example.com": {"auth": auth}}})},
        ssh={"id_rsa.pub": f"ssh-ed25519 {ssh_key_body} hygiene@example.com"},
    )
    return {"registry password": registry_password, "registry auth": auth, "SSH key": ssh_key_body}


def key_values(client_key_data: str) -> dict[str, str]:
    """The hosted kubeconfig's client key (HyperShift's system:admin), as inline data and as PEM lines."""
    lines = [x for x in base64.b64decode(client_key_data).decode().splitlines() if x and not x.startswith("-----")]
    return {"hosted client key": client_key_data, **{f"hosted client key line {i}": x for i, x in enumerate(lines)}}


def test_no_secret_value_reaches_logs_events_status_or_artifacts(mgmt, operator):
    ns = namespace(mgmt, unique("hygiene"))
    planted = planted_secrets(mgmt, ns)
    dpucluster(mgmt, ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", ns, "dpucluster"))
    provisioner = wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=90)  # every step ran

    # The hosted cluster's admin kubeconfig, as HyperShift published it and the operator copied it to DPF.
    published = wait_for("the admin kubeconfig", lambda: mgmt.get_or_none(SECRET, "hcp-admin-kubeconfig", ns))
    kubeconfig = yaml.safe_load(base64.b64decode(published["data"]["kubeconfig"]))
    hosted_key = kubeconfig["users"][0]["user"]["client-key-data"]
    injected = provisioner["status"]["kubeConfigSecretRef"]["name"]
    copied = mgmt.get(SECRET, injected, ns)
    assert any(hosted_key in base64.b64decode(v).decode() for v in copied["data"].values())  # the value is real

    values = {**planted, **key_values(hosted_key)}
    places = {
        "operator log": operator.log_text(),
        "Events": json.dumps(mgmt.list(EVENT, ns).get("items") or []),
        "provisioner status": json.dumps(mgmt.get(PROVISIONER, "hcp", ns).get("status") or {}),
        **_texts(operator.log.parent / "work"),
    }
    assert any("artifacts" in place for place in places), "no ansible-runner artifacts were searched"
    leaks = [f"{what} in {place}" for place, text in places.items() for what, value in values.items() if value in text]
    assert not leaks, leaks


def test_one_off_playbooks_print_no_secret_even_at_vvv_with_diff(env, mgmt, standins):
    """provision.yml and deprovision.yml at -vvv --diff (module arguments and results printed):
    no pull secret, SSH key, hosted or management token in what a user's terminal shows."""
    ns = namespace(mgmt, unique("hygiene-oneoff"))
    planted = planted_secrets(mgmt, ns)
    dpucluster(mgmt, ns, "dpucluster")
    spec = provisioner_body(ns, "hcp", ns, "dpucluster")["spec"]
    extra = {"dpfhcp_name": "hcp", "dpfhcp_namespace": ns, "dpfhcp_spec": spec}
    extra |= {"dpfhcp_wait_delay": 1, "dpfhcp_wait_timeout": 60}
    kubeconfig = env.management.kubeconfig_path()
    provision = ansible_playbook("provision.yml", kubeconfig, "-vvv", "--diff", extra_vars=extra)
    assert provision.returncode == 0, provision.stdout[-3000:] + provision.stderr[-2000:]
    published = mgmt.get(SECRET, "hcp-admin-kubeconfig", ns)
    hosted_key = yaml.safe_load(base64.b64decode(published["data"]["kubeconfig"]))["users"][0]["user"][
        "client-key-data"
    ]
    deprovision = ansible_playbook("deprovision.yml", kubeconfig, "-vvv", "--diff", extra_vars=extra)
    assert deprovision.returncode == 0, deprovision.stdout[-3000:] + deprovision.stderr[-2000:]
    assert provision.stdout.count("=> {") > 10  # -vvv printed the tasks' results in full
    values = {
        **planted,
        **key_values(hosted_key),
        "management token": env.management.token("admin"),
    }
    places = {
        "provision stdout": provision.stdout,
        "provision stderr": provision.stderr,
        "deprovision stdout": deprovision.stdout,
        "deprovision stderr": deprovision.stderr,
    }
    leaks = [f"{what} in {place}" for place, text in places.items() for what, value in values.items() if value in text]
    assert not leaks, leaks
