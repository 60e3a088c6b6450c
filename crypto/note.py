"""Ed25519 note signatures (a log's checkpoints) and Ed25519 cosignature/v1 (a witness's timestamped
cosignature), per C2SP signed-note and tlog-cosignature; verifying raises, never returns False."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crypto.keys import SigningKey, raw_public
from protocol.checkpoint import (
    MAX_TIMESTAMP,
    TYPE_ED25519,
    TYPE_ED25519_COSIGNATURE,
    NoteSignature,
    SignedNote,
    check_note_text,
    cosignature_message,
    key_id,
    parse_checkpoint_body,
)

_TIMESTAMP_SIZE = 8
_ED25519_SIGNATURE_SIZE = 64


class NoteError(ValueError):
    """A note or cosignature that does not verify. `reason` is one of:

    bad_note_signature  a signature by a known key that does not verify over the note text
    bad_cosignature     a cosignature that is not key id || 8-byte time || 64-byte signature of
                        this witness, has a time above 2^63 - 1, or does not verify
    ambiguous_key       two different verifier keys share the name and key id a signature names
    unsigned            no signature by the key that had to sign (verify_cosignature(note, ...);
                        callers raise it too)
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _ed25519(private_key: Ed25519PrivateKey | SigningKey) -> Ed25519PrivateKey:
    key = private_key.private_key if isinstance(private_key, SigningKey) else private_key
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"note keys are Ed25519, not {type(key).__name__}")
    return key


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted public key under its note name: a log's key, or a witness's when `cosigner`."""

    name: str
    public_key: Ed25519PublicKey
    cosigner: bool = False

    @property
    def type_byte(self) -> int:
        return TYPE_ED25519_COSIGNATURE if self.cosigner else TYPE_ED25519

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.type_byte, raw_public(self.public_key))


class NoteSigner:
    """A log's Ed25519 key that signs note texts (checkpoint bodies) under its name."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, private_key: Ed25519PrivateKey | SigningKey) -> None:
        self._key = _ed25519(private_key)
        self.name = name
        self.key_id = key_id(name, TYPE_ED25519, raw_public(self._key.public_key()))

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self._key.public_key())

    def sign(self, body: bytes) -> NoteSignature:
        check_note_text(body)  # signing bytes no parser accepts is our bug, not a peer's
        return NoteSignature(self.name, self.key_id, self._key.sign(body))

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()!r})"


class CosignatureSigner:
    """A witness's Ed25519 key that cosigns checkpoints it has checked, with the time it did."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, private_key: Ed25519PrivateKey | SigningKey) -> None:
        self._key = _ed25519(private_key)
        self.name = name
        self.key_id = key_id(name, TYPE_ED25519_COSIGNATURE, raw_public(self._key.public_key()))

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self._key.public_key(), cosigner=True)

    def cosign(self, body: bytes, timestamp: int) -> NoteSignature:
        """Cosign a checkpoint body at `timestamp` (POSIX seconds, chosen by the caller)."""
        parse_checkpoint_body(body)  # a witness cosigns checkpoints, nothing else
        signature = self._key.sign(cosignature_message(body, timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature)

    def __repr__(self) -> str:
        return f"CosignatureSigner(name={self.name!r}, key_id={self.key_id.hex()!r})"


def sign_note(body: bytes, name: str, key: SigningKey | Ed25519PrivateKey) -> NoteSignature:
    return NoteSigner(name, key).sign(body)


def cosign_note(body: bytes, name: str, key: SigningKey | Ed25519PrivateKey, timestamp: int) -> NoteSignature:
    return CosignatureSigner(name, key).cosign(body, timestamp)


def verify_note(note: SignedNote, verifiers: Sequence[NoteVerifier]) -> list[str]:
    """The names of the given keys whose signatures verified, in note order, each once.

    Signatures whose (name, key id) matches no verifier are ignored, as the spec requires (key
    rotation, other witnesses). Every signature of a known key is verified: one that fails raises
    NoteError. An empty list means no known key signed: the caller decides whose signature it needs.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    ambiguous: set[tuple[str, bytes]] = set()
    for verifier in verifiers:
        handle = (verifier.name, verifier.key_id)
        other = known.setdefault(handle, verifier)
        if _identity(other) != _identity(verifier):
            ambiguous.add(handle)
    verified: list[str] = []
    for signature in note.signatures:
        handle = (signature.name, signature.key_id)
        if handle in ambiguous:
            raise NoteError("ambiguous_key", f"two keys are named {signature.name}+{signature.key_id.hex()}")
        verifier = known.get(handle)
        if verifier is None:
            continue
        if verifier.cosigner:
            _verify_cosignature_line(note.body, signature, verifier)
        else:
            try:
                verifier.public_key.verify(signature.sig, note.body)
            except InvalidSignature:
                raise NoteError("bad_note_signature",
                                f"the signature of {signature.name}+{signature.key_id.hex()} does not verify") from None
        if signature.name not in verified:
            verified.append(signature.name)
    return verified


def _identity(verifier: NoteVerifier) -> tuple[bytes, bool]:
    return raw_public(verifier.public_key), verifier.cosigner


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The time a cosignature/v1 claims, unverified (NoteError if it cannot be one)."""
    if len(signature.sig) != _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
        raise NoteError("bad_cosignature", f"a cosignature/v1 is {_TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE} "
                                           f"bytes after the key id, not {len(signature.sig)}")
    timestamp = int.from_bytes(signature.sig[:_TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError("bad_cosignature", "a cosignature time is at most 2^63 - 1")
    return timestamp


@overload
def verify_cosignature(note: SignedNote, verifier: NoteVerifier, /) -> int: ...
@overload
def verify_cosignature(body: bytes, signature: NoteSignature, verifier: NoteVerifier, /) -> int: ...


def verify_cosignature(subject: SignedNote | bytes, second: NoteVerifier | NoteSignature,
                       verifier: NoteVerifier | None = None, /) -> int:
    """The time at which `verifier`'s witness cosigned, or NoteError.

    Two forms: `verify_cosignature(note, verifier)` finds the witness's cosignature in a signed
    note (NoteError "unsigned" if it has none; if it has several, all must verify and the latest
    time is returned); `verify_cosignature(body, signature, verifier)` checks one signature line.
    The time is the witness's claim; rejecting times in the future is the caller's choice (the
    caller owns the clock).
    """
    if isinstance(subject, SignedNote):
        if verifier is not None or not isinstance(second, NoteVerifier):
            raise TypeError("verify_cosignature(note, verifier) or verify_cosignature(body, signature, verifier)")
        handle = (second.name, second.key_id)
        mine = [s for s in subject.signatures if (s.name, s.key_id) == handle]
        if not mine:
            raise NoteError("unsigned", f"no cosignature by {second.name}+{second.key_id.hex()}")
        return max(_verify_cosignature_line(subject.body, s, second) for s in mine)
    if not isinstance(second, NoteSignature) or not isinstance(verifier, NoteVerifier):
        raise TypeError("verify_cosignature(note, verifier) or verify_cosignature(body, signature, verifier)")
    return _verify_cosignature_line(subject, second, verifier)


def _verify_cosignature_line(body: bytes, signature: NoteSignature, verifier: NoteVerifier) -> int:
    if not verifier.cosigner:
        raise NoteError("bad_cosignature", f"{verifier.name} is not configured as a cosigner")
    if (signature.name, signature.key_id) != (verifier.name, verifier.key_id):
        raise NoteError("bad_cosignature", f"signature by {signature.name}+{signature.key_id.hex()}, "
                                           f"not by {verifier.name}+{verifier.key_id.hex()}")
    timestamp = cosignature_timestamp(signature)
    try:
        verifier.public_key.verify(signature.sig[_TIMESTAMP_SIZE:], cosignature_message(body, timestamp))
    except InvalidSignature:
        raise NoteError("bad_cosignature", f"the cosignature of {verifier.name} does not verify") from None
    return timestamp
