"""The CLI's and the nodes' HTTP clients (nodes/plumbing/api_client.py): the URL a serving hub or node
recorded (HTTPS when it serves HTTPS), the server checked against the CA given, never unverified."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto.pki import cert_to_pem, create_root
from nodes.plumbing.api_client import (
    ApiTrustError,
    api_base,
    client_ssl_context,
    endpoint_file,
    record_endpoint,
)
from nodes.plumbing.deployment import Deployment


def test_a_client_takes_the_https_url_the_server_recorded_for_its_port(tmp_path: Path) -> None:
    assert api_base(tmp_path, "MEX", 4431) == "http://127.0.0.1:4431/api"  # nothing recorded: development HTTP
    record_endpoint(endpoint_file(tmp_path, "MEX"), "https://127.0.0.1:4431")
    assert api_base(tmp_path, "MEX", 4431) == "https://127.0.0.1:4431/api"
    assert api_base(tmp_path, "MEX", 4432) == "http://127.0.0.1:4432/api"  # a record of another run's port
    assert endpoint_file(tmp_path, "HUB") == tmp_path / "hub" / "api-endpoint.json"
    assert (endpoint_file(tmp_path, "MEX").stat().st_mode & 0o077) == 0


def test_a_node_reaches_an_https_hub_and_peers_by_their_recorded_urls(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, 5671, hub_http_port=4430, node_http_ports={"MEX": 4431, "IDN": 4432})
    record_endpoint(endpoint_file(tmp_path, "HUB"), "https://127.0.0.1:4430")
    record_endpoint(endpoint_file(tmp_path, "IDN"), "https://127.0.0.1:4432")
    config = deployment.node_config("MEX")
    assert config.hub_api_url == "https://127.0.0.1:4430"
    assert dict(config.witness_peers) == {"IDN": "https://127.0.0.1:4432"}


def test_client_contexts_verify_the_server_and_a_missing_ca_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ApiTrustError, match="--cacert"):
        client_ssl_context(tmp_path / "absent.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ApiTrustError, match="not a PEM CA certificate"):
        client_ssl_context(tmp_path / "junk.pem")
    _, root = create_root("somex", datetime(2026, 11, 22, tzinfo=UTC))
    (tmp_path / "root.crt").write_text(cert_to_pem(root))
    context = client_ssl_context(tmp_path / "root.crt")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
