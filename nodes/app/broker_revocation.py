"""The broker operator's side of a TLS revocation: install the root's new CRL in every broker node
(checked: signed by the TLS CA the root certified, newer than the one installed), then close the
connections of the members whose keys it revokes. Erlang's `ssl_crl_hash_dir` reads the CRL file
at each handshake (docs/pki.md), so the next connection of a revoked certificate is refused
without a broker restart; open connections are not re-checked, hence the closing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import structlog
from cryptography import x509

from crypto.directory import Directory
from crypto.keys import kid_of
from crypto.tls_request import check_crl, crl_number, load_crl
from nodes.app.cluster import PrivateCluster
from nodes.plumbing.rabbit import BrokerError, PrivateBroker

log = structlog.get_logger("somex.broker_revocation")


def broker_nodes(broker: PrivateBroker | PrivateCluster) -> list[PrivateBroker]:
    return list(broker.nodes) if isinstance(broker, PrivateCluster) else [broker]


def installed_crl(node: PrivateBroker) -> x509.CertificateRevocationList | None:
    if node.tls is None or node.tls.crl_dir is None:
        raise BrokerError(f"the broker node {node.nodename} is not an AMQPS broker: it has no revocation list to "
                          "replace (re-create the federation and the broker with TLS)")
    files = sorted(Path(node.tls.crl_dir).glob("*.r0"))
    return load_crl(files[0].read_bytes()) if files else None


def install_revocation_list(broker: PrivateBroker | PrivateCluster, crl_pem: bytes,
                            root_cert: x509.Certificate) -> int:
    """Check the CRL against the TLS CA in the broker's own certificate chain and the root, and against
    the newest one installed (a lower or equal number is `stale_crl`), then install it on every node.
    Nothing is installed unless every node accepts it. Returns its CRL number."""
    nodes = broker_nodes(broker)
    for node in nodes:
        chain = x509.load_pem_x509_certificates(Path(node.tls.cert_file).read_bytes()) if node.tls else []
        if len(chain) != 2:
            raise BrokerError(f"{node.tls.cert_file if node.tls else node.nodename}: no TLS CA certificate after the "
                              "broker's own: cannot check who signed the revocation list")
        check_crl(crl_pem, chain[1], root_cert, installed_crl(node))
    for node in nodes:
        node.install_crl(crl_pem)
    number = crl_number(load_crl(crl_pem))
    log.info("TLS revocation list installed", crl_number=number, broker_nodes=len(nodes))
    return number


def members_of_keys(directory: Directory, kids: Iterable[str]) -> list[str]:
    """The broker users of the members that hold any of `kids` (certificates in `directory`)."""
    wanted = set(kids)
    return sorted({entry.broker_user for entry in directory.nodes.values()
                   if any(kid_of(c.public_key()) in wanted for c in entry.certificates)})


def close_member_connections(broker: PrivateBroker | PrivateCluster, users: Iterable[str], reason: str) -> None:
    """Close every open connection of `users` on every running broker node, including one opened a
    moment ago (PrivateBroker.close_user_connections: live tracking, not the lagging statistics)."""
    users = list(users)
    for node in broker_nodes(broker):
        if users and node.pid() is not None:
            for user in users:
                node.close_user_connections(user, reason)
