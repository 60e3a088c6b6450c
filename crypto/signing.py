"""Signing and verifying envelopes. Verification returns a distinct type or raises.

Handlers and stores accept only `VerifiedEnvelope`, so unverified data cannot reach them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crypto.errors import SignatureError
from crypto.keys import PublicKey, SigningKey, verify_signature
from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.envelope import Envelope, Signature


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    envelope: Envelope
    digest: str  # Envelope.digest(): names the signed message in receipts and the audit log

    @property
    def id(self) -> str:
        return self.envelope.id


def sign_envelope(env: Envelope, key: SigningKey) -> Envelope:
    value = key.sign(env.signing_input())
    return env.with_signature(Signature(key.alg, key.kid, base64.b64encode(value).decode("ascii")))


CheckSignature = Callable[[str, PublicKey, bytes, bytes], None]


def verify_envelope(env: Envelope, trust, now: datetime,  # noqa: ANN001
                    check: CheckSignature = verify_signature) -> VerifiedEnvelope:
    """Raise a CryptoError (reason code) unless `env` is signed by a valid key of its sender.

    `trust` is a crypto.directory.TrustStore: it resolves the kid to an unrevoked certificate
    valid at `now`. `check`: crypto.keys.verify_signature, or a caller's stand-in with its contract
    (the hub's, nodes/hub/signature_checks.py, answers from checks of the same bytes made
    beforehand in a worker thread, and calls verify_signature for anything else).
    """
    sig = env.sig
    if sig is None:
        raise SignatureError("unsigned", "the envelope carries no signature")
    signer, public_key = trust.signer(sig.kid, now)
    if signer != env.sender:
        raise SignatureError("signer_mismatch", f"signed by {signer}'s key, but sender is {env.sender}")
    try:
        value = decode_base64(sig.value, "signature value")
    except NonCanonicalEncoding as exc:  # another spelling of a valid signature would change the digest
        raise SignatureError("bad_signature", str(exc)) from None
    check(sig.alg, public_key, value, env.signing_input())
    return VerifiedEnvelope(env, env.digest())
