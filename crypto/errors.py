"""The error family of the crypto layer: every refusal carries one short snake_case reason code.

| reason | raised by | meaning |
|---|---|---|
| `unsupported_alg` | SignatureError, CertificateError | a signature algorithm (or root key type) this federation does not accept |
| `alg_mismatch` | SignatureError | the signature names an algorithm that is not the signer's key type |
| `bad_signature` | SignatureError, DirectoryError | the signature does not verify over the signed bytes; for a directory or revocation list: not signed by the federation root (any other key, or a wrong `sig.kid`/`sig.alg`) |
| `unsigned` | SignatureError | no signature where one is required (crypto/signing.py) |
| `signer_mismatch` | SignatureError | signed by another node's key than the claimed sender's (crypto/signing.py) |
| `unknown_key` | SignatureError, DirectoryError | no certificate in the directory has this key id |
| `revoked_key` | SignatureError | the root has revoked this key id |
| `cert_expired` | CertificateError | the certificate's notAfter is before `now` |
| `cert_not_yet_valid` | CertificateError | the certificate's notBefore is after `now` |
| `cert_not_from_root` | CertificateError, DirectoryError | a certificate not issued (issuer name and signature) by the federation root |
| `malformed` | DirectoryError | a signed directory or revocation list that is not exactly the canonical form this code writes (bad JSON, non-canonical bytes, unknown or missing members, wrong types, a node certificate that is not an Ed25519 end-entity certificate of that node) |
| `expired` | DirectoryError | the directory's `expires` has passed: ask the root for a new one |
| `not_yet_valid` | DirectoryError | the directory's `issued` is in the future |
| `directory_expired` | DirectoryError | a trust store was asked about a key after its directory expired |
| `stale_directory` / `stale_revocations` | DirectoryError | at start: a directory / revocation list with a lower serial than the one this hub or node already accepted (an old file put back); published live: a serial not higher than the one in use (replay or rollback) |
| `wrong_federation` | DirectoryError | a published directory or revocation list of another federation |
| `serial_reused` | DirectoryError | at start: a different directory or revocation list under the serial already accepted |
| `unknown_node` | DirectoryError | a node id that the directory does not have |
| `cert_name_mismatch` | DirectoryError, JoinError | a certificate (or CSR) whose CN is not the node id it is listed or requested for |
| `malformed_request` / `malformed_bundle` | JoinError | a join request / admission bundle that is not exactly the canonical form this code writes (truncated, re-encoded, unknown or missing members, wrong key types) |
| `bad_node_id` | JoinError | a join request for an id that is neither `HUB` nor an ISO 3166-1 alpha-3 code |
| `bad_request_signature` | JoinError | the CSR or the join request is not signed by the signing key it carries |
| `already_member` / `not_a_member` | JoinError | admission of an id the directory has, without `--rotation` / a rotation for an id it has not |
| `hub_first` | JoinError | a federation's first admission is not the hub's |
| `key_reused` | JoinError | a signing key the directory already lists (for this or another node) |
| `bundle_mismatch` | JoinError | an admission bundle for another node, or for keys this node does not hold |
| `unknown_root` | JoinError | an admission bundle from a root other than the one the operator pinned |
| `server_name_mismatch` | CertificateError | a TLS server's certificate request for other names than the root operator was given (crypto/tls_request.py) |
| `malformed_crl` / `crl_not_from_tls_ca` / `stale_crl` | CertificateError | a TLS revocation list that does not parse, is not signed by the federation's TLS CA, or is not newer than the installed one |

Local misuse (a naive datetime, a key of the wrong type, an invalid node id passed by our own
code) raises ValueError/TypeError instead: it is a bug, not a peer's fault.
"""

from __future__ import annotations

from datetime import datetime


class CryptoError(Exception):
    """A refusal by the crypto layer: `reason` is the code above, `detail` says what exactly."""

    def __init__(self, reason: str, detail: str = "", *, valid_from: datetime | None = None,
                 valid_until: datetime | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        # For the "not yet valid" / "expired" refusals: the validity window, so that a caller can
        # tell its operator when its own clock may be the cause (nodes/plumbing/clock_words.py).
        self.valid_from = valid_from
        self.valid_until = valid_until


class SignatureError(CryptoError):
    """A signature that does not verify, or whose key cannot be trusted."""


class CertificateError(CryptoError):
    """A certificate outside its validity window or not issued by the federation root."""


class DirectoryError(CryptoError):
    """A directory or revocation list that is unsigned, malformed, out of date, or lacks an entry."""


class JoinError(CryptoError):
    """A join request or admission the ceremony refuses (crypto/join.py)."""
