"""A kubeconfig someone else wrote (HyperShift's) is checked before it is used or handed on: what is
wrong is named, its content never quoted."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import check_kubeconfig_text


def test_unusable_kubeconfigs_are_named_not_quoted():
    good = (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: Y2E=}}]\n"
        "users: [{name: u, user: {token: s3cr3t-token}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    check_kubeconfig_text(good)
    for text, words in {
        "{{{ s3cr3t-token": "not YAML",
        "- s3cr3t-token": "not a mapping but list",
        good.replace("certificate-authority-data: Y2E=", "certificate-authority-data: '%%s3cr3t'"): "malformed",
        good.replace("clusters: [", "clusters: 42\nx: ["): "malformed",
        good.replace("current-context: c", "current-context: s3cr3t"): "no context",
    }.items():
        try:
            check_kubeconfig_text(text)
        except ValueError as exc:
            assert words in str(exc), (words, str(exc))
            assert "s3cr3t-token" not in str(exc)
        else:
            raise AssertionError(f"accepted: {words}")
