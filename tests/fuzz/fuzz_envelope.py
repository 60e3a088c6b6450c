"""atheris target for long fuzzing runs of the wire decoders (not collected by pytest).

    pip install atheris
    .venv/bin/python -m tests.fuzz.fuzz_envelope -max_total_time=3600 corpus/

Any exception other than DecodeError is a finding: atheris stops and writes the input to a
crash-* file. The bounded CI version of this property is tests/unit/test_fuzz_decoders.py.
"""

from __future__ import annotations

import sys

from protocol import envelope as wire
from protocol.errors import DecodeError
from protocol.receipts import parse_log_receipt


def check(data: bytes) -> None:
    """Decode `data` as an envelope (and its clear body) and as a log receipt: refusals only."""
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


def main() -> None:
    import atheris  # lazily: a fuzzing tool, not a dependency of somex

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
