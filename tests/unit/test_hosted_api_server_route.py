"""Which address the CSR watch uses for a hosted API server: its in-cluster Service in a pod (as the
upstream operator does), the published endpoint otherwise, and only host:port templates."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.hosted_kubeconfig import SERVICE
from dpf_hcp_operator.cli import parse
from dpf_hcp_operator.settings import Config, service_problem


def hosted_api_service(mode, service, environ):
    return Config(hosted_api_server=mode, hosted_api_server_service=service).hosted_api_service(environ)


def test_auto_is_the_service_in_a_pod_and_the_published_endpoint_elsewhere():
    assert hosted_api_service("auto", SERVICE, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) == SERVICE
    assert hosted_api_service("auto", SERVICE, {}) is None
    assert hosted_api_service("service", "kas.{namespace}.svc.cluster.local:2040", {}) == (
        "kas.{namespace}.svc.cluster.local:2040"
    )
    assert hosted_api_service("published", SERVICE, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) is None


def test_the_flags():
    assert parse([]).hosted_api_service({}) is None
    assert (
        parse(["--hosted-api-server=service"]).hosted_api_service({})
        == "kube-apiserver.{namespace}.svc.cluster.local:6443"
    )
    assert parse([]).hosted_api_service({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) == SERVICE


@pytest.mark.parametrize(
    "bad", ["kube-apiserver.{ns}.svc:6443", "{0}:6443", "https://x:6443", "x", "x:0", "x:70000", "u@x:6443", "x:6443/p"]
)
def test_a_service_that_is_not_host_port_is_refused_at_start(bad, capsys):
    assert service_problem(bad)
    with pytest.raises(SystemExit):
        parse([f"--hosted-api-server-service={bad}"])
    assert "--hosted-api-server-service" in capsys.readouterr().err


def test_good_services():
    for good in (SERVICE, "kube-apiserver.{namespace}.svc.cluster.local:6443", "localhost:2040", "[::1]:6443"):
        assert service_problem(good) is None
