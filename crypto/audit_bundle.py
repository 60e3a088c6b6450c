"""Offline verification of an audit bundle, trusting only the federation root certificate.

A bundle (format `somex-audit-bundle/v1`) holds the root-signed directory, the hub's signed
checkpoints with the witnesses' cosignatures, consistency proofs between successive checkpoints,
and entries (canonical leaves): either the whole log with its stored leaf hashes, or a selection
with an inclusion proof each. Every check that fails becomes a Finding naming the entry index or
the checkpoint size; nothing stops at the first one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from crypto.directory import HUB_ID, load_directory
from crypto.errors import CryptoError
from crypto.merkle import CompactRange, ProofError, leaf_hash, verify_consistency, verify_inclusion
from crypto.note import NoteError, NoteVerifier, verify_note
from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.checkpoint import CheckpointError, parse_checkpoint_body, parse_note

FORMAT = "somex-audit-bundle/v1"


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
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_index(self) -> int | None:
        indexes = [f.index for f in self.findings if f.index is not None]
        return min(indexes) if indexes else None


def _b64(items: list[str]) -> list[bytes]:
    return [decode_base64(h, "proof hash") for h in items]


def verify_bundle(bundle: dict[str, Any], root_cert: x509.Certificate) -> Report:
    report = Report()
    if bundle.get("format") != FORMAT:
        report.findings.append(Finding("bad_format", f"not a {FORMAT} bundle"))
        return report
    try:
        directory = load_directory(bundle["directory"].encode(), root_cert, None)
    except (CryptoError, KeyError, AttributeError) as exc:
        report.findings.append(Finding("bad_directory", f"directory not signed by this root: {exc}"))
        return report
    origin = report.origin = bundle.get("origin", "")
    # Every key the directory lists (a bundle may span a key rotation), each under its node's name.
    log_keys = [NoteVerifier(origin, c.public_key()) for c in directory.node(HUB_ID).certificates]
    witnesses = [NoteVerifier(n, c.public_key(), cosigner=True)
                 for n in directory.node_ids() for c in directory.node(n).certificates]

    roots: dict[int, bytes] = {}
    for text in bundle.get("checkpoints", []):
        try:
            note = parse_note(text.encode())
            checkpoint = parse_checkpoint_body(note.body)
        except CheckpointError as exc:
            report.findings.append(Finding("bad_checkpoint", exc.detail))
            continue
        size = checkpoint.size
        if checkpoint.origin != origin:
            report.findings.append(Finding("wrong_origin", checkpoint.origin, checkpoint=size))
            continue
        try:
            if origin not in verify_note(note, log_keys):
                raise NoteError("unsigned", "no signature by the hub's key")
        except NoteError as exc:
            report.findings.append(Finding("bad_checkpoint_signature", str(exc), checkpoint=size))
            continue
        try:
            report.cosigners[size] = verify_note(note, witnesses)
        except NoteError as exc:
            report.findings.append(Finding("bad_cosignature", str(exc), checkpoint=size))
        roots[size] = checkpoint.root_hash
    report.checkpoints = len(roots)
    if not roots:
        report.findings.append(Finding("no_checkpoint", "the bundle has no valid signed checkpoint"))
        return report
    sizes = sorted(roots)
    latest = report.tree_size = sizes[-1]

    proofs = {(p["from"], p["to"]): p["hashes"] for p in bundle.get("consistency", [])}
    for first, second in zip(sizes, sizes[1:]):
        try:
            verify_consistency(first, second, _b64(proofs.get((first, second), [])), roots[first], roots[second])
        except (ProofError, NonCanonicalEncoding) as exc:
            report.findings.append(Finding("inconsistent_checkpoints",
                                           f"checkpoint {second} does not extend checkpoint {first} "
                                           f"({getattr(exc, 'reason', exc)}): the log was rewritten", checkpoint=second))

    entries = bundle.get("entries", [])
    report.entries = len(entries)
    hashes: dict[int, bytes] = {}
    for item in entries:
        index = item.get("index")
        try:
            leaf = decode_base64(item["leaf"], "leaf")
            content = json.loads(leaf)
        except (KeyError, ValueError):
            report.findings.append(Finding("bad_entry", "leaf is not base64 JSON", index=index))
            continue
        if content.get("seq") != index:
            report.findings.append(Finding("misplaced_entry", f"position {index} holds the entry numbered "
                                                              f"{content.get('seq')} (reordered or moved)", index=index))
        hashes[index] = leaf_hash(leaf)
        if "proof" in item:
            try:
                verify_inclusion(hashes[index], index, latest, _b64(item["proof"]), roots[latest])
            except (ProofError, NonCanonicalEncoding) as exc:
                report.findings.append(Finding("not_in_log", f"inclusion proof fails ({getattr(exc, 'reason', exc)})",
                                               index=index))
    if bundle.get("scope", {}).get("kind") == "full":
        _verify_full(report, hashes, roots, sizes, bundle.get("leaf_hashes"))
    report.findings.sort(key=lambda f: (f.index if f.index is not None else -1, f.checkpoint or 0))
    return report


def _verify_full(report: Report, hashes: dict[int, bytes], roots: dict[int, bytes], sizes: list[int],
                 stored: list[str] | None) -> None:
    """The whole log: recompute the tree and compare it with every checkpoint."""
    latest = sizes[-1]
    missing = [i for i in range(latest) if i not in hashes]
    for i in missing[:10]:
        report.findings.append(Finding("missing_entry", "no entry at this position", index=i))
    if missing:
        return
    stored_hashes = _b64(stored) if stored else []
    for i, h in enumerate(stored_hashes[:latest]):
        if h != hashes[i]:
            report.findings.append(Finding("altered_entry", "the entry's content does not match the leaf hash the "
                                                            "log committed to", index=i))
    tree = CompactRange()
    good = 0
    for i in range(latest):
        tree.append(hashes[i])
        if tree.size in roots:
            if tree.root() != roots[tree.size]:
                if not any(f.index is not None for f in report.findings):
                    report.findings.append(Finding(
                        "rewritten_log", f"the entries do not produce checkpoint {tree.size}'s root: the first "
                                         f"bad entry lies in [{good}, {tree.size})", index=good,
                        checkpoint=tree.size))
                return
            good = tree.size
