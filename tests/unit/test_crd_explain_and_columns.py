"""What a person sees of the CRD: `kubectl explain` has a description for every field, and
`kubectl get dpfhcp -o wide` adds the Ready condition's reason and message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

CRD = Path(__file__).resolve().parents[2] / "helm/dpf-hcp-provisioner-operator/crds"
VERSION = yaml.safe_load((CRD / "provisioning.dpu.hcp.io_dpfhcpprovisioners.yaml").read_text())["spec"]["versions"][0]
ROOT = VERSION["schema"]["openAPIV3Schema"]


def fields(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field under ``schema``: properties, array items and map values, at any depth."""
    for name, sub in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", sub
        yield from fields(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield f"{path}[]", schema["items"]
        yield from fields(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield f"{path}{{}}", schema["additionalProperties"]
        yield from fields(schema["additionalProperties"], f"{path}{{}}")


def test_every_crd_field_has_a_description_for_kubectl_explain():
    walked = dict(fields(ROOT, "DPFHCPProvisioner"))
    # The API server refuses anything but `type` on the root metadata (a structural schema rule);
    # kubectl explain shows ObjectMeta's own documentation there.
    assert walked.pop("DPFHCPProvisioner.metadata") == {"type": "object"}
    assert {"DPFHCPProvisioner.spec", "DPFHCPProvisioner.status.conditions[].reason"} <= walked.keys()
    missing = [path for path, sub in walked.items() if not str(sub.get("description") or "").strip()]
    assert ROOT.get("description")
    assert not missing, f"fields without a description: {missing}"


def test_wide_output_shows_the_ready_conditions_reason_and_message():
    columns = {c["name"]: c for c in VERSION["additionalPrinterColumns"]}
    ready = '.status.conditions[?(@.type=="Ready")]'
    assert columns["Reason"] == columns["Reason"] | {"type": "string", "priority": 1, "jsonPath": f"{ready}.reason"}
    assert columns["Message"] == columns["Message"] | {"type": "string", "priority": 1, "jsonPath": f"{ready}.message"}
    # The default view stays as it was: priority 0 columns only.
    assert [c["name"] for c in VERSION["additionalPrinterColumns"] if not c.get("priority")] == [
        "Phase",
        "Ready",
        "HostedCluster",
        "Age",
    ]
