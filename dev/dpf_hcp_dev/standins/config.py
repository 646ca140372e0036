"""Stand-in behaviour, read from the ConfigMap `standins` in namespace `dpf-hcp-standins` so
tests change it through the API like anything else.

Keys (all optional):
  availableAfterSeconds   seconds from HostedCluster creation to Available=True (default 2)
  deleteAfterSeconds      seconds from deletion request to the HostedCluster being gone (default 1)
  upgradeAfterSeconds     seconds a release change stays Partial before it is Completed (default 3)
  tokenRotateAfterSeconds seconds after which the ignition server rotates a token in place (default
                          19800, HyperShift's 5.5 h)
  <ns>.<name>.degraded    "true": that HostedCluster reports Degraded=True, Available=False
  <ns>.<name>.stuckDeletion  "true": that HostedCluster never finishes deleting
  <ns>.<name>.statusFrozen   "true": that HostedCluster's status is left as it is (whoever wrote it)
  <ns>.<name>.apiEndpoint    "host:port": that HostedCluster's API server is published there (its
                             status.controlPlaneEndpoint and its admin kubeconfig's server), read
                             when the kubeconfig is first published: a test's peer playing a hosted
                             API server gone bad (silent, dripping)
  <ns>.<name>.upgradeHeld    "true": a release change of that HostedCluster stays Partial until unset
                             (its controlPlaneVersion and its version both)
  <ns>.<name>.coreConfigsMissing "true": that NodePool's control plane has not written its core
                             ignition configs (ValidMachineConfig False; no token for a new config)
  <ns>.<name>.payloadInvalid "true": the ignition server cannot generate the payload of the NodePool
                             tokens made from then on (reason InvalidConfig on the token secret; 511)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAMESPACE = "dpf-hcp-standins"
NAME = "standins"


@dataclass
class StandinConfig:
    data: dict[str, str]

    @classmethod
    def from_configmap(cls, cm: dict[str, Any] | None) -> StandinConfig:
        return cls(dict((cm or {}).get("data") or {}))

    def number(self, key: str, default: float) -> float:
        try:
            return float(self.data.get(key, default))
        except ValueError:
            return default

    def flag(self, namespace: str, name: str, what: str) -> bool:
        return self.data.get(f"{namespace}.{name}.{what}", "").lower() == "true"

    def value(self, namespace: str, name: str, what: str) -> str:
        return self.data.get(f"{namespace}.{name}.{what}", "")

    @property
    def available_after(self) -> float:
        return self.number("availableAfterSeconds", 2.0)

    @property
    def delete_after(self) -> float:
        return self.number("deleteAfterSeconds", 1.0)

    @property
    def upgrade_after(self) -> float:
        return self.number("upgradeAfterSeconds", 3.0)
