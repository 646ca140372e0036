"""Each role's README.md, rendered from its meta/argument_specs.yml so the two never disagree.

python -m dpf_hcp_dev.role_readmes          # rewrite roles/*/README.md
python -m dpf_hcp_dev.role_readmes --check  # exit 1 when one is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
# Ansible's documentation markup -> Markdown.
MARKUP = [(re.compile(r"[CIO]\(([^)]*)\)"), r"`\1`"), (re.compile(r"E\(([^)]*)\)"), r"`$\1`")]
PLAYBOOK_USE = {
    "cleanup": "`playbooks/finalize.yml` (the operator's finalizer) and `playbooks/deprovision.yml`",
    "status": "`playbooks/reconcile.yml` and `playbooks/finalize.yml`, after the other roles",
}


def _text(value: Any) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    text = " ".join(text.split())
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def _default(option: dict[str, Any]) -> str:
    if option.get("required"):
        return "required"
    value = option.get("default")
    return f"`{value!r}`" if isinstance(value, dict | list) else f"`{value}`"


def render(role: str) -> str:
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    description = spec.get("description") or []
    lines = [
        f"# dpf_hcp.provisioner.{role}",
        "",
        _text(spec["short_description"]) + ".",
        "",
        *[f"- {_text(item)}" for item in (description if isinstance(description, list) else [description])],
        "",
        "Used by "
        + PLAYBOOK_USE.get(role, "`playbooks/reconcile.yml` (the operator) and `playbooks/provision.yml` (one-off)")
        + ". Its tasks run on the controller and connect as kubernetes.core does (the collection's dependency),"
        " through the kubernetes Python client: see `requirements.txt`.",
        "",
        "## Variables",
        "",
        "| name | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for name, option in spec["options"].items():
        lines.append(
            f"| `{name}` | {option.get('type', 'str')} | {_default(option)} | {_text(option.get('description', ''))} |"
        )
    lines += [
        "",
        "## Example",
        "",
        "```yaml",
        "- name: Read the provisioner",
        "  dpf_hcp.provisioner.k8s_info:",
        "    api_version: provisioning.dpu.hcp.io/v1alpha1",
        "    kind: DPFHCPProvisioner",
        "    namespace: my-dpu-clusters",
        "    name: prod-dpu-cluster",
        "  register: found",
        "",
        f"- name: {_text(spec['short_description'])}",
        "  ansible.builtin.include_role:",
        f"    name: dpf_hcp.provisioner.{role}",
        "  vars:",
        '    dpfhcp_provisioner: "{{ found.resources | first }}"',
        "```",
        "",
        "The role's arguments are checked against `meta/argument_specs.yml` when it starts.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report READMEs that are out of date")
    args = parser.parse_args()
    stale = []
    for role in sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        readme, text = ROLES / role / "README.md", render(role)
        if not readme.exists() or readme.read_text() != text:
            stale.append(str(readme.relative_to(REPO)))
            if not args.check:
                readme.write_text(text)
    if stale:
        print(("out of date: " if args.check else "written: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
