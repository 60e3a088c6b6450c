"""The witness policy a root-signed directory may state: who witnesses the hub's log, how many of
them must cosign a checkpoint, and how often a witness cosigns. Pure values and their strict
parsing; crypto/witness.py applies the policy (with its defaults) to a directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.checkpoint import MAX_SIGNATURES

# A served checkpoint carries the hub's signature and at most this many cosignatures: C2SP
# signed-note verifiers such as Go's sumdb/note stop at 100 signature lines.
MAX_SERVED_COSIGNATURES = MAX_SIGNATURES - 1
MAX_COSIGN_INTERVAL = 86_400  # a witness that cosigns less than daily leaves the log unwitnessed too long

_MEMBERS = {"witnesses", "quorum", "cosign_interval"}


@dataclass(frozen=True)
class WitnessPolicy:
    """`witnesses` in policy order (None: every national node, by node id); `quorum` cosignatures
    a checkpoint needs (None: the default rule of crypto/witness.py); a witness cosigns at most
    one checkpoint per `cosign_interval`-second window of its clock (0: every checkpoint)."""

    witnesses: tuple[str, ...] | None = None
    quorum: int | None = None
    cosign_interval: int | None = None

    def __post_init__(self) -> None:
        if self.witnesses is not None:
            object.__setattr__(self, "witnesses", tuple(self.witnesses))
            if not self.witnesses or not all(isinstance(w, str) and w for w in self.witnesses):
                raise ValueError("witness_policy.witnesses must be a non-empty list of node ids")
            if len(set(self.witnesses)) != len(self.witnesses):
                raise ValueError("witness_policy.witnesses lists a node twice")
        if self.quorum is not None:
            if not _is_int(self.quorum) or not 1 <= self.quorum <= MAX_SERVED_COSIGNATURES:
                raise ValueError(f"witness_policy.quorum is 1..{MAX_SERVED_COSIGNATURES} (a served checkpoint "
                                 f"carries at most {MAX_SERVED_COSIGNATURES} cosignatures), not {self.quorum!r}")
            if self.witnesses is not None and self.quorum > len(self.witnesses):
                raise ValueError(f"witness_policy.quorum {self.quorum} exceeds its {len(self.witnesses)} witnesses")
        if self.cosign_interval is not None and (not _is_int(self.cosign_interval)
                                                 or not 0 <= self.cosign_interval <= MAX_COSIGN_INTERVAL):
            raise ValueError(f"witness_policy.cosign_interval is 0..{MAX_COSIGN_INTERVAL} seconds, "
                             f"not {self.cosign_interval!r}")

    def as_json(self) -> dict[str, Any]:
        """Only the members the root stated: an absent member keeps its documented default."""
        stated = {"witnesses": list(self.witnesses) if self.witnesses is not None else None,
                  "quorum": self.quorum, "cosign_interval": self.cosign_interval}
        return {k: v for k, v in stated.items() if v is not None}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_witness_policy(obj: object) -> WitnessPolicy:
    """The policy in a directory's `witness_policy` member; ValueError/TypeError if malformed."""
    if not isinstance(obj, dict):
        raise TypeError("witness_policy must be an object")
    unknown = sorted(set(obj) - _MEMBERS)
    if unknown:
        raise ValueError(f"witness_policy: unknown members {unknown}")
    if not obj:
        raise ValueError("witness_policy states nothing: leave it out instead")
    if any(value is None for value in obj.values()):
        raise TypeError("witness_policy members are absent, never null")
    witnesses = obj.get("witnesses")
    if witnesses is not None and not isinstance(witnesses, list):
        raise TypeError("witness_policy.witnesses must be a list")
    for member in ("quorum", "cosign_interval"):
        if member in obj and not _is_int(obj[member]):
            raise TypeError(f"witness_policy.{member} must be an integer")
    return WitnessPolicy(tuple(witnesses) if witnesses is not None else None, obj.get("quorum"),
                         obj.get("cosign_interval"))
