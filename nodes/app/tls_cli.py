"""`somex broker tls-request`, `somex federation sign-server`, `somex broker tls-install`: the TLS server
key ceremony (nodes/app/ceremony.py) from the command line; each refusal is one line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nodes.plumbing.config import utcnow

BROKER_NAMES_HELP = ("comma-separated DNS names and IP addresses clients dial to reach this server (its "
                     "certificate's subjectAltName), e.g. broker.hub.example,203.0.113.7")


def add_broker_parsers(broker: argparse._SubParsersAction) -> None:
    request = broker.add_parser("tls-request", help="on the broker's host: a new TLS server key (0600) and a "
                                                    "certificate request for the root operator")
    request.add_argument("--names", required=True, help=BROKER_NAMES_HELP)
    request.add_argument("--dir", type=Path, help="where the key and request go (default "
                                                  "STATE_DIR/federation/broker, where 'broker up' reads them)")
    request.add_argument("--name", default="broker", help="the certificate's CN (default: broker)")
    install = broker.add_parser("tls-install", help="on the broker's host: check and install the certificate the "
                                                    "root operator signed")
    install.add_argument("certificate", type=Path, help="the file from 'somex federation sign-server'")
    install.add_argument("--dir", type=Path, help="the directory of the key (default STATE_DIR/federation/broker)")
    install.add_argument("--root-cert", type=Path, help="the federation root certificate (default "
                                                        "STATE_DIR/federation/root/root.crt)")


def add_federation_parser(fed: argparse._SubParsersAction) -> None:
    sign = fed.add_parser("sign-server", help="the root operator, offline: sign a TLS server's certificate request "
                                              "(the broker's) for exactly the names its operator told you")
    sign.add_argument("request", type=Path, help="the server's tls-request.csr.pem")
    sign.add_argument("--root", type=Path, required=True, dest="root_dir", help="the root operator's directory")
    sign.add_argument("--names", required=True, help="the names the server's operator gave you over a second "
                                                     "channel; the request must ask for exactly these")
    sign.add_argument("--name", default="broker", help="the CN the request must carry (default: broker)")
    sign.add_argument("--out", type=Path, required=True, help="where to write the certificate chain to hand back")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def run(args: argparse.Namespace) -> int:
    from crypto.errors import CryptoError
    from crypto.pki import cert_from_pem
    from nodes.app import ceremony
    from nodes.plumbing.federation import BROKER_DIR

    default_dir = args.state_dir / "federation" / BROKER_DIR
    try:
        if args.action == "tls-request":
            target = args.dir or default_dir
            ceremony.request_server_certificate(target, _names(args.names), args.name)
            print(f"TLS key written to {target / 'tls.key'} (private, never send it)")
            print(f"certificate request: {target / ceremony.SERVER_REQUEST_FILE}: send it to the root operator and "
                  f"tell them the names ({args.names}) over a second channel")
        elif args.action == "sign-server":
            chain = ceremony.sign_server_certificate(args.root_dir, args.request.read_bytes(), _names(args.names),
                                                     utcnow(), args.name)
            args.out.write_bytes(chain)
            print(f"certificate for {args.name} ({args.names}) written to {args.out}: hand it back to the server's "
                  "operator ('somex broker tls-install')")
        else:
            target = args.dir or default_dir
            root_file = args.root_cert or args.state_dir / "federation" / "root" / "root.crt"
            ceremony.install_server_certificate(target, args.certificate.read_bytes(),
                                                cert_from_pem(root_file.read_bytes()), utcnow())
            print(f"certificate installed in {target / 'tls.crt'}: 'somex broker up' serves AMQPS with it")
    except CryptoError as exc:
        print(f"somex: refused ({exc.reason}): {exc.detail}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"somex: {exc}", file=sys.stderr)
        return 2
    return 0
