"""atheris target for long fuzzing runs of the wire decoders (not collected by pytest).

    pip install atheris
    .venv/bin/python -m tests.fuzz.fuzz_envelope -max_total_time=3600 corpus/

Any exception other than the typed refusal of each decoder is a finding: atheris stops and writes
the input to a crash-* file. The bounded CI version is tests/unit/test_fuzz_decoders.py.
"""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.keys import SigningKey
from crypto.note import NoteVerifier
from crypto.sealing import SealError, open_sealed
from crypto.witness import WitnessError, Witnessed, check_checkpoint
from protocol import envelope as wire
from protocol.errors import DecodeError
from protocol.receipts import parse_log_receipt

_SEALING_KEY = X25519PrivateKey.generate()
_LOG = NoteVerifier("somex/fuzz/audit", SigningKey.generate().public_key)


def check(data: bytes) -> None:
    """Feed `data` to every decoder of what arrives from the wire: each returns or refuses."""
    try:
        env = wire.decode(data)
        if env.body is not None:
            wire.decode_body(env)
    except DecodeError:
        pass
    try:
        parse_log_receipt(data)
    except DecodeError:
        pass
    try:
        open_sealed(data.decode("utf-8", "replace"), "IDN", _SEALING_KEY, b"mla.request\nid\nMEX")
    except SealError:
        pass
    try:
        check_checkpoint(data, origin=_LOG.name, log_key=_LOG, last=Witnessed(1, bytes(32)), proofs={1: []})
    except WitnessError:
        pass


def main() -> None:
    import atheris  # lazily: a fuzzing tool, not a dependency of somex

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
