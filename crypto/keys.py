"""Key types: Ed25519 signing keys (named by kid) and X25519 sealing keys. No secret in a repr.

Every signature carries its algorithm name (`alg`); adding ML-DSA means one more `SigningKey`
kind and one more entry in `_PUBLIC_KEY_TYPES`, with no change to any wire format.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from crypto.errors import SignatureError

ED25519 = "ed25519"

# The public key type each accepted algorithm verifies with.
_PUBLIC_KEY_TYPES: dict[str, type] = {ED25519: Ed25519PublicKey}

PublicKey = Ed25519PublicKey  # grows into a union when ML-DSA joins


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    """The raw public key bytes (32 for Ed25519)."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(public_key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw public key: names a key in signatures and revocations."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()


def _pkcs8(private_key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


class SigningKey:
    """An Ed25519 private key with its public key and kid. `alg` travels with every signature."""

    alg: str = ED25519
    __slots__ = ("_key", "kid", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("SigningKey wraps an Ed25519 private key")
        self._key = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.kid: str = kid_of(self.public_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Load an unencrypted PKCS8 PEM; TypeError if it is not an Ed25519 private key."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"not an Ed25519 private key but {type(key).__name__}")
        return cls(key)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS8 PEM: write it only to a 0600 file."""
        return _pkcs8(self._key)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The wrapped key, for APIs that need it (the X.509 builder). Never log it."""
        return self._key

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


class SealingKey:
    """An X25519 private key: recipients open HPKE-sealed bodies with it."""

    __slots__ = ("_key",)

    def __init__(self, private_key: X25519PrivateKey) -> None:
        if not isinstance(private_key, X25519PrivateKey):
            raise TypeError("SealingKey wraps an X25519 private key")
        self._key = private_key

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SealingKey:
        """Load an unencrypted PKCS8 PEM; TypeError if it is not an X25519 private key."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, X25519PrivateKey):
            raise TypeError(f"not an X25519 private key but {type(key).__name__}")
        return cls(key)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS8 PEM: write it only to a 0600 file."""
        return _pkcs8(self._key)

    @property
    def public_key(self) -> X25519PublicKey:
        return self._key.public_key()

    def public_bytes(self) -> bytes:
        """The raw 32-byte X25519 public key, as published in the directory."""
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def private_key(self) -> X25519PrivateKey:
        """The wrapped key, for HPKE. Never log it."""
        return self._key

    def __repr__(self) -> str:
        return f"SealingKey(public={self.public_bytes().hex()!r})"


def verify_signature(alg: str, public_key: PublicKey, signature: bytes, data: bytes) -> None:
    """Return if `signature` by `public_key` over `data` verifies under `alg`; else SignatureError."""
    key_type = _PUBLIC_KEY_TYPES.get(alg) if isinstance(alg, str) else None
    if key_type is None:
        raise SignatureError("unsupported_alg", f"algorithm {str(alg)[:32]!r} is not accepted")
    if not isinstance(public_key, key_type):
        raise SignatureError("alg_mismatch", f"an {alg} signature cannot come from a {type(public_key).__name__}")
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        raise SignatureError("bad_signature", "the signature does not verify") from None


class HybridSealingKey:
    """An ML-KEM-768 + X25519 private key (HPKE's hybrid post-quantum KEM) for sealed bodies.

    Stored as 96 raw bytes: the 64-byte ML-KEM seed, then the 32-byte X25519 private key.
    Published as 1216 bytes: the ML-KEM-768 encapsulation key, then the X25519 public key.
    """

    __slots__ = ("_mlkem", "_x25519")
    PUBLIC_SIZE = 1184 + 32

    def __init__(self, mlkem_key: MLKEM768PrivateKey, x25519_key: X25519PrivateKey) -> None:
        self._mlkem, self._x25519 = mlkem_key, x25519_key

    @classmethod
    def generate(cls) -> HybridSealingKey:
        return cls(MLKEM768PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> HybridSealingKey:
        if len(raw) != 96:
            raise ValueError("a hybrid sealing key is 96 bytes: ML-KEM seed and X25519 key")
        return cls(MLKEM768PrivateKey.from_seed_bytes(raw[:64]), X25519PrivateKey.from_private_bytes(raw[64:]))

    def to_bytes(self) -> bytes:
        """The raw private key: write it only to a 0600 file."""
        return self._mlkem.private_bytes_raw() + self._x25519.private_bytes_raw()

    def public_bytes(self) -> bytes:
        """The public key as published in the directory."""
        return (self._mlkem.public_key().public_bytes_raw()
                + self._x25519.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    @property
    def private_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """For HPKE. Never log it."""
        return hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)

    def __repr__(self) -> str:
        return f"HybridSealingKey(public_sha256={hashlib.sha256(self.public_bytes()).hexdigest()[:16]!r})"


def hybrid_public_key(raw: bytes) -> hpke.MLKEM768X25519PublicKey:
    """A published hybrid sealing key (HybridSealingKey.public_bytes) as an HPKE public key."""
    if len(raw) != HybridSealingKey.PUBLIC_SIZE:
        raise ValueError(f"a hybrid sealing key is {HybridSealingKey.PUBLIC_SIZE} bytes")
    return hpke.MLKEM768X25519PublicKey(MLKEM768PublicKey.from_public_bytes(raw[:1184]),
                                        X25519PublicKey.from_public_bytes(raw[1184:]))
