"""The error family of the crypto layer: every failure carries a reason code.

| reason | meaning |
|---|---|
| `unsupported_alg` | a signature algorithm this federation does not accept |
| `bad_signature` | the signature does not verify over the signed bytes |
| `unsigned` | no signature where one is required |
| `signer_mismatch` | signed by another node's key than the claimed sender's |
| `unknown_key` | no certificate in the directory has this key id |
| `revoked_key` | the root has revoked this key |
| `cert_expired` / `cert_not_yet_valid` | the signer's certificate is outside its validity window |
| `cert_not_from_root` | a certificate not issued by the federation root |
| `malformed` | a directory or revocation list that cannot be parsed |
| `expired` / `not_yet_valid` | a directory outside its validity window |
| `unknown_node` | a node id that the directory does not have |
"""

from __future__ import annotations


class CryptoError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SignatureError(CryptoError):
    pass


class CertificateError(CryptoError):
    pass


class DirectoryError(CryptoError):
    pass
