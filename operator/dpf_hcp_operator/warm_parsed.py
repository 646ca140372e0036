"""Ansible's own YAML, parsed once by the warm interpreter instead of once by every run.

Before its first task, every ansible-playbook run parses two large files of the installed
ansible-core: the routing of the ansible.builtin collection (config/ansible_builtin_runtime.yml,
about 370 kB, which the collection loader parses with PyYAML) and the definitions of Ansible's
settings (config/base.yml, about 90 kB, parsed when ansible.constants is imported). They are the
same for every run of one installation, and parsing them is a few hundred milliseconds of each run
(the README's "How fast it is").

The server parses them once, before it forks any run, and replaces the two functions Ansible
parses them with by a lookup keyed by the content (a file that is not what the server parsed is
parsed as before):
- the collection loader's parser of routing files, ``_meta_yml_to_dict``, which ansible-core
  leaves open to such a replacement ("may be monkeypatched to another implementation", with a
  ``content_id`` "to allow other implementations to cache the output":
  ansible/ansible lib/ansible/utils/collection_loader/_collection_meta.py), called through the
  name ``_collection_finder`` imported it by;
- ``ConfigManager._read_config_yaml_file``, which reads base.yml (lib/ansible/config/manager.py).

Ansible changes what it gets (ConfigManager adds the deprecations to the definitions), so each
call gets an object of its own: the server keeps what it parsed pickled, and unpickling is a
few milliseconds where parsing is a few hundred. These modules read nothing of the environment
when imported (ansible.constants does, and is not imported here).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.warm")


class ParsedOnce:
    """Parsed documents, pickled, by the SHA-256 of their content."""

    def __init__(self) -> None:
        self.parsed: dict[bytes, bytes] = {}

    def learn(self, content: bytes, parse: Callable[[], Any]) -> None:
        self.parsed[hashlib.sha256(content).digest()] = pickle.dumps(parse(), protocol=pickle.HIGHEST_PROTOCOL)

    def get(self, content: bytes, parse: Callable[[], Any]) -> Any:
        """A new object for ``content``: from what the server parsed, or ``parse()`` for another."""
        known = self.parsed.get(hashlib.sha256(content).digest())
        return parse() if known is None else pickle.loads(known)  # noqa: S301 - pickled by this process


def parse_ansible_definitions() -> ParsedOnce | None:
    """Parse ansible-core's routing and settings definitions now, and make Ansible look them up;
    None (and nothing changed) when this ansible-core lacks one of the functions replaced, or its
    files cannot be read or parsed (each run then parses them and reports it, as before)."""
    try:
        import ansible  # noqa: PLC0415 - the server imports Ansible's parts only here, after its preload
        from ansible.config.manager import ConfigManager  # noqa: PLC0415
        from ansible.utils.collection_loader import _collection_finder  # noqa: PLC0415
    except Exception as exc:  # a broken install: each run parses them itself (and says what is wrong)
        log(LOG, logging.INFO, "warm interpreter: ansible-core's definitions not parsed ahead", error=str(exc)[:300])
        return None
    parse_routing = getattr(_collection_finder, "_meta_yml_to_dict", None)
    read_definitions = getattr(ConfigManager, "_read_config_yaml_file", None)
    if not (callable(parse_routing) and callable(read_definitions)):
        log(LOG, logging.INFO, "warm interpreter: this ansible-core's definitions are parsed by each run")
        return None
    parsed = ParsedOnce()
    config = Path(ansible.__file__).parent / "config"
    routing = config / "ansible_builtin_runtime.yml"
    definitions = config / "base.yml"
    try:
        routing_text = routing.read_bytes()
        parsed.learn(routing_text, lambda: parse_routing(routing_text, ("ansible.builtin", "runtime.yml")))
        parsed.learn(definitions.read_bytes(), lambda: read_definitions(None, str(definitions)))
    except Exception as exc:  # as a run would find them (unreadable, not YAML): each run says so
        log(LOG, logging.INFO, "warm interpreter: ansible-core's definitions not parsed ahead", error=str(exc)[:300])
        return None

    def routing_of(yaml_string_data: bytes | str, content_id: Any) -> Any:
        text = yaml_string_data if isinstance(yaml_string_data, bytes) else yaml_string_data.encode()
        return parsed.get(text, lambda: parse_routing(yaml_string_data, content_id))

    def definitions_in(self: Any, yml_file: Any) -> Any:
        path = os.fsencode(yml_file)
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError:
            return read_definitions(self, yml_file)  # Ansible's own error
        return parsed.get(text, lambda: read_definitions(self, yml_file))

    _collection_finder._meta_yml_to_dict = routing_of
    ConfigManager._read_config_yaml_file = definitions_in
    return parsed
