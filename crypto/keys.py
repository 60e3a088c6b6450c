"""Key types: Ed25519 signing keys (named by kid) and X25519 sealing keys. No secret in a repr."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.errors import SignatureError

ED25519 = "ed25519"


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key: names a key in signatures and revocations."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()


class SigningKey:
    """An Ed25519 private key. `alg` travels with every signature so ML-DSA can join later."""

    alg = ED25519

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.kid = kid_of(self.public_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._key

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid[:16]}…)"


class SealingKey:
    """An X25519 private key: recipients open HPKE-sealed bodies with it."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SealingKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, X25519PrivateKey):
            raise ValueError("not an X25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def public_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def private_key(self) -> X25519PrivateKey:
        return self._key

    def __repr__(self) -> str:
        return f"SealingKey(public={self.public_bytes().hex()[:16]}…)"


def verify_signature(alg: str, public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    if alg != ED25519:
        raise SignatureError("unsupported_alg", f"algorithm {alg[:32]!r} is not accepted")
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        raise SignatureError("bad_signature", "the signature does not verify") from None
