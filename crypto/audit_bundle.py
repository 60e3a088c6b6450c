"""Offline verification of an audit bundle, trusting only the federation root certificate.

A bundle (format `somex-audit-bundle/v1`) holds the root-signed directory, the hub's signed
checkpoints with the witnesses' cosignatures, consistency proofs between successive checkpoints,
and entries (canonical leaves), each with an inclusion proof against a named checkpoint or, for
a run of entries from index 0, none: that run is proven by recomputing the tree. The verifier
decides what is proven from the proofs alone, never from what the bundle says about itself, and
requires a quorum of the directory's witnesses on a checkpoint that covers every entry (a
witness every key of which the bundle's root-signed revocation list revokes is neither required
nor counted; without a list, every witness counts: stricter, never weaker). Every
check that fails becomes a Finding naming the entry index or the checkpoint size; nothing stops at
the first one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from crypto.directory import HUB_ID, Directory, load_directory, load_revocations
from crypto.keys import kid_of
from crypto.errors import CryptoError
from crypto.merkle import CompactRange, ProofError, leaf_hash, verify_consistency, verify_inclusion
from crypto.note import NoteError, NoteVerifier, verify_note
from crypto.witness import QuorumError, directory_witnesses, required_quorum
from protocol.checkpoint import CheckpointError, log_origin, parse_checkpoint_body, parse_note
from protocol.encoding import NonCanonicalEncoding, decode_base64

FORMAT = "somex-audit-bundle/v1"
_COLLATERAL = frozenset({"unproven_entry", "not_witnessed"})  # entries not shown wrong, only not shown right
_LISTED = 10  # per-entry findings of one kind named one by one before they are counted


@dataclass(frozen=True)
class Finding:
    what: str
    detail: str
    index: int | None = None  # the entry concerned, when one is
    checkpoint: int | None = None  # the checkpoint size concerned, when one is

    def __str__(self) -> str:
        where = f"entry {self.index}" if self.index is not None else (
            f"checkpoint {self.checkpoint}" if self.checkpoint is not None else "bundle")
        return f"{where}: {self.what}: {self.detail}"


@dataclass
class Report:
    origin: str = ""
    entries: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    cosigners: dict[int, list[str]] = field(default_factory=dict)
    witnesses: list[str] = field(default_factory=list)  # the directory's witnesses
    directory_serial: int | None = None  # of the root-signed directory the witnesses were counted in
    quorum_required: int = 0
    witnessed_size: int | None = None  # the newest checkpoint cosigned by the quorum
    proven: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> leaf content, proven and witnessed
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def quorum_met(self) -> int:
        return len(self.cosigners.get(self.witnessed_size, [])) if self.witnessed_size is not None else 0

    @property
    def first_bad_index(self) -> int | None:
        """The first entry found wrong; entries left unproven because of it come after it."""
        indexes = [f.index for f in self.findings if f.index is not None and f.what not in _COLLATERAL]
        indexes = indexes or [f.index for f in self.findings if f.index is not None]
        return min(indexes) if indexes else None


def _b64(items: object) -> list[bytes]:
    if not isinstance(items, list) or not all(isinstance(h, str) for h in items):
        raise NonCanonicalEncoding("a list of base64 strings was expected")
    return [decode_base64(h, "proof hash") for h in items]


def verify_bundle(bundle: object, root_cert: x509.Certificate, *, quorum: int | None = None) -> Report:
    """What the bundle proves; `quorum` lowers the number of witnesses required (default: the directory's witness policy)."""
    report = Report()
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        report.findings.append(Finding("bad_format", f"not a {FORMAT} bundle"))
        return report
    try:
        directory = load_directory(bundle["directory"].encode(), root_cert, None)
    except (CryptoError, KeyError, AttributeError, ValueError, TypeError) as exc:
        report.findings.append(Finding("bad_directory", f"directory not signed by this root: {exc}"))
        return report
    revoked = _revoked_keys(report, bundle, directory, root_cert)
    if revoked is None:
        return report
    report.witnesses = directory_witnesses(directory, revoked)
    report.directory_serial = directory.serial
    try:
        report.quorum_required = required_quorum(directory, quorum, revoked)
    except QuorumError as exc:
        report.findings.append(Finding("bad_quorum", str(exc)))
        return report
    # The log's name comes from the root-signed directory, never from the bundle.
    origin = report.origin = log_origin(directory.federation)
    if bundle.get("origin", origin) != origin:
        report.findings.append(Finding("wrong_origin", f"the bundle names log {str(bundle.get('origin'))[:80]!r}, "
                                                       f"the directory's is {origin!r}"))
    roots = _verify_checkpoints(report, bundle.get("checkpoints"), directory, origin, revoked)
    if not roots:
        report.findings.append(Finding("no_checkpoint", "the bundle has no valid signed checkpoint"))
        return report
    sizes = sorted(roots)
    report.tree_size = sizes[-1]
    _verify_chain(report, bundle.get("consistency"), roots, sizes)
    proven_at = _verify_entries(report, bundle.get("entries"), roots, bundle.get("leaf_hashes"))
    _require_quorum(report, sizes, proven_at)
    report.findings.sort(key=lambda f: (f.index if f.index is not None else -1, f.checkpoint or 0))
    return report


def _revoked_keys(report: Report, bundle: dict, directory: Directory, root_cert: x509.Certificate) -> frozenset[str] | None:
    """The key ids the bundle's root-signed revocation list revokes (none without a list); None,
    with a finding, for a list the root did not sign or one of another federation."""
    if "revocations" not in bundle:
        return frozenset()
    try:
        revocations = load_revocations(bundle["revocations"].encode(), root_cert)
    except (CryptoError, AttributeError, ValueError, TypeError) as exc:
        report.findings.append(Finding("bad_revocations", f"revocation list not signed by this root: {exc}"))
        return None
    if revocations.federation != directory.federation:
        report.findings.append(Finding("bad_revocations", f"revocation list of {revocations.federation[:80]!r}, "
                                                          f"the directory's federation is {directory.federation!r}"))
        return None
    return revocations.revoked


def _verify_checkpoints(report: Report, notes: object, directory: Directory, origin: str,
                        revoked: frozenset[str]) -> dict[int, bytes]:
    """Size -> root of every checkpoint the hub signed; cosigners verified against the directory."""
    # Every key the directory lists for the hub (an export may span a rotation of the hub's key).
    log_keys = [NoteVerifier(origin, cert.public_key()) for cert in directory.node(HUB_ID).certificates]
    # Every certificate a witness holds in the directory (several during a key rollover), but a revoked one.
    witnesses = [NoteVerifier(n, cert.public_key(), cosigner=True)
                 for n in report.witnesses for cert in directory.node(n).certificates
                 if kid_of(cert.public_key()) not in revoked]
    roots: dict[int, bytes] = {}
    cosigners: dict[int, set[str]] = {}
    for text in notes if isinstance(notes, list) else []:
        try:
            if not isinstance(text, str):
                raise CheckpointError("bad_checkpoint", "a checkpoint is a signed note text")
            note = parse_note(text.encode())
            checkpoint = parse_checkpoint_body(note.body)
        except CheckpointError as exc:
            report.findings.append(Finding("bad_checkpoint", exc.detail))
            continue
        size = checkpoint.size
        if checkpoint.origin != origin:
            report.findings.append(Finding("wrong_origin", checkpoint.origin[:80], checkpoint=size))
            continue
        try:
            if origin not in verify_note(note, log_keys):
                raise NoteError("unsigned", "no signature by the hub's key")
        except NoteError as exc:
            report.findings.append(Finding("bad_checkpoint_signature", str(exc), checkpoint=size))
            continue
        if size in roots and roots[size] != checkpoint.root_hash:
            report.findings.append(Finding("conflicting_checkpoints", "the hub signed two different roots for this "
                                                                      "size: a split view or a rewritten log",
                                           checkpoint=size))
            continue
        roots[size] = checkpoint.root_hash
        try:
            cosigners.setdefault(size, set()).update(verify_note(note, witnesses))
        except NoteError as exc:
            report.findings.append(Finding("bad_cosignature", str(exc), checkpoint=size))
    report.checkpoints = len(roots)
    report.cosigners = {size: sorted(names) for size, names in cosigners.items()}
    return roots


def _verify_chain(report: Report, given: object, roots: dict[int, bytes], sizes: list[int]) -> None:
    """Each checkpoint extends the one before it: together they describe one append-only log."""
    proofs: dict[tuple[object, object], object] = {}
    for p in given if isinstance(given, list) else []:
        if isinstance(p, dict):
            proofs[(p.get("from"), p.get("to"))] = p.get("hashes")
    for first, second in zip(sizes, sizes[1:]):
        try:
            verify_consistency(first, second, _b64(proofs.get((first, second), [])), roots[first], roots[second])
        except (ProofError, NonCanonicalEncoding) as exc:
            report.findings.append(Finding("inconsistent_checkpoints",
                                           f"checkpoint {second} does not extend checkpoint {first} "
                                           f"({getattr(exc, 'reason', exc)}): the log was rewritten", checkpoint=second))


def _verify_entries(report: Report, entries: object, roots: dict[int, bytes], stored: object) -> dict[int, int]:
    """index -> the size of the checkpoint that proves the entry; findings for the rest."""
    items = entries if isinstance(entries, list) else []
    report.entries = len(items)
    latest = max(roots)
    hashes: dict[int, bytes] = {}
    contents: dict[int, dict[str, Any]] = {}
    proven_at: dict[int, int] = {}
    for position, item in enumerate(items):
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            report.findings.append(Finding("bad_entry", f"item {position} has no integer index"))
            continue
        if index in hashes:
            report.findings.append(Finding("duplicate_entry", "the bundle holds two entries at this index", index=index))
            continue
        if not 0 <= index < latest:
            report.findings.append(Finding("out_of_range", f"no signed checkpoint covers index {index} "
                                                           f"(the largest has {latest} entries)", index=index))
            continue
        try:
            leaf = decode_base64(item["leaf"], "leaf")
            content = json.loads(leaf)
            if not isinstance(content, dict):
                raise ValueError("not an object")
        except (KeyError, TypeError, ValueError):
            report.findings.append(Finding("bad_entry", "leaf is not base64 JSON", index=index))
            continue
        if content.get("seq") != index:
            report.findings.append(Finding("misplaced_entry", f"position {index} holds the entry numbered "
                                                              f"{str(content.get('seq'))[:24]} (reordered or moved)",
                                           index=index))
        hashes[index], contents[index] = leaf_hash(leaf), content
        if "proof" in item:
            size = item.get("size")
            try:
                if not isinstance(size, int) or isinstance(size, bool) or size not in roots:
                    raise ProofError("unknown_checkpoint", f"the proof names no signed checkpoint ({str(size)[:24]})")
                verify_inclusion(hashes[index], index, size, _b64(item["proof"]), roots[size])
                proven_at[index] = size
            except (ProofError, NonCanonicalEncoding) as exc:
                report.findings.append(Finding("not_in_log", f"inclusion proof fails ({getattr(exc, 'reason', exc)})",
                                               index=index))
    _localise_altered(report, hashes, stored)
    full = _recompute_prefix(report, hashes, roots)
    for index in hashes:
        if index < full:
            proven_at.setdefault(index, full)
    named = {f.index for f in report.findings}
    unproven = sorted(i for i in hashes if i not in proven_at and i not in named)
    if unproven:
        gap = next(i for i in range(len(hashes) + 1) if i not in hashes)
        if 0 < gap < unproven[-1]:  # a run from index 0 that stops short: name the hole
            report.findings.append(Finding("missing_entry", "no entry at this position, so the entries after it "
                                                            "cannot be recomputed into a checkpoint", index=gap))
        _per_entry(report, "unproven_entry", "no inclusion proof, and not part of a recomputed tree that equals "
                                             "a signed checkpoint", unproven)
    report.proven = {i: contents[i] for i in sorted(proven_at)}
    return proven_at


def _localise_altered(report: Report, hashes: dict[int, bytes], stored: object) -> None:
    """The leaf hashes the hub says it stored only help name an altered entry; they prove nothing."""
    try:
        stored_hashes = _b64(stored) if stored else []
    except NonCanonicalEncoding:
        return
    altered = [i for i, h in enumerate(stored_hashes) if i in hashes and h != hashes[i]]
    _per_entry(report, "altered_entry", "the entry's content does not match the leaf hash the log committed to",
               altered)


def _recompute_prefix(report: Report, hashes: dict[int, bytes], roots: dict[int, bytes]) -> int:
    """The largest checkpoint size whose root the entries 0..size-1 recompute exactly (0 if none)."""
    tree = CompactRange()
    good = 0
    while tree.size in hashes:
        tree.append(hashes[tree.size])
        if tree.size in roots:
            if tree.root() != roots[tree.size]:
                if not any(f.index is not None for f in report.findings):
                    report.findings.append(Finding(
                        "rewritten_log", f"the entries do not produce checkpoint {tree.size}'s root: the first "
                                         f"bad entry lies in [{good}, {tree.size})", index=good,
                        checkpoint=tree.size))
                return good
            good = tree.size
    return good


def _require_quorum(report: Report, sizes: list[int], proven_at: dict[int, int]) -> None:
    """The newest checkpoint the quorum cosigned must cover every proven entry.

    The consistency chain makes each checkpoint a prefix of every later one, so an entry proven at
    any size is in the witnessed log exactly when its index is below the witnessed size.
    """
    need = report.quorum_required
    witnessed = [s for s in sizes if len(report.cosigners.get(s, [])) >= need]
    if not witnessed:
        best = max(sizes, key=lambda s: (len(report.cosigners.get(s, [])), s))
        report.findings.append(Finding(
            "below_quorum", f"no checkpoint is cosigned by {need} of the directory's {len(report.witnesses)} "
                            f"witnesses (at most {len(report.cosigners.get(best, []))}, on checkpoint {best}): "
                            f"a log shown to no witness may be a rewritten or split view; wait for the witnesses "
                            f"to cosign and export again, or lower the quorum with --quorum"))
        report.proven = {}
        return
    report.witnessed_size = size = witnessed[-1]
    beyond = sorted(i for i in proven_at if i >= size)
    _per_entry(report, "not_witnessed", f"beyond checkpoint {size}, the newest the quorum cosigned", beyond)
    for index in beyond:
        report.proven.pop(index, None)


def _per_entry(report: Report, what: str, detail: str, indexes: Iterable[int]) -> None:
    indexes = list(indexes)
    for index in indexes[:_LISTED]:
        report.findings.append(Finding(what, detail, index=index))
    if len(indexes) > _LISTED:
        report.findings.append(Finding(what, f"{len(indexes) - _LISTED} more entries, up to {indexes[-1]}"))
