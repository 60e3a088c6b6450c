"""The core message types every class relies on: notes, receipts, the hub's own messages
(rejections, checkpoints, the root's published documents), the witnesses' cosignatures, and the
request of a node restored from a backup to have its peers send again what it lost."""

from __future__ import annotations

from protocol.message_class import MessageClass, MessageType, MiB
from protocol.resend import window_rule
from protocol.schema import SHA256_HEX, TIMESTAMP, UUID, Enum, Int, List, Nullable, Obj, Str

REASON = Str(max_len=64, pattern=r"[a-z0-9_]+")  # a code of docs/reason-codes.md
# A root-signed federation document (crypto/directory.py wire form, as text) the hub relays to
# every node; each node verifies the root's signature itself and applies it without restart.
PUBLICATION = Obj(required={"document": Str(max_len=16 * MiB)})

MESSAGE_CLASS = MessageClass("core", (
    MessageType("note", "node", header=Obj(), body=Obj(required={"text": Str(max_len=20000)}),
                receipted=True, retention_days=730),
    MessageType(
        "receipt", "node", header=Obj(), retention_days=730,
        # kind `refused`: stored but its effect refused (reason: a code of docs/reason-codes.md)
        body=Obj(required={"of": UUID, "digest": SHA256_HEX,
                           "kind": Enum("delivered", "retrieved", "refused"), "at": TIMESTAMP},
                 optional={"reason": REASON}),
    ),
    MessageType(
        "hub.rejection", "hub", header=Obj(), retention_days=730,
        body=Obj(required={"reason": REASON, "detail": Str(max_len=2000), "at": TIMESTAMP},
                 optional={"of": Nullable(UUID), "of_type": Nullable(Str(max_len=64))}),
    ),
    MessageType(
        "hub.checkpoint", "hub", header=Obj(), broadcast=True, retention_days=730,
        # proofs: consistency proofs (base64 hashes) to this checkpoint from recent earlier sizes
        body=Obj(required={"note": Str(max_len=65536),
                           "proofs": List(Obj(required={"from": Int(), "hashes": List(Str(max_len=44), max_items=64)}),
                                          max_items=16)}),
    ),
    # Sent by the hub alone (nodes/hub/publication.py), so the hub's directory entry lists them and
    # a country's does not: a node checks every incoming message against its sender's entry.
    MessageType("hub.directory", "hub", header=Obj(), broadcast=True, max_bytes=17 * MiB,
                body=PUBLICATION, retention_days=730),
    MessageType("hub.revocations", "hub", header=Obj(), broadcast=True, max_bytes=17 * MiB,
                body=PUBLICATION, retention_days=730),
    MessageType("witness.cosign", "node", header=Obj(), to_hub=True, retention_days=730,
                body=Obj(required={"size": Int(), "signature": Str(max_len=512)})),
    # A node restored from a backup asks each peer to send again, to it alone, what the peer sent it
    # between `since` (about the newest message of that peer the backup holds) and `until` (the
    # restore), but for the `held` ids it has: the same signed envelopes, forwarded by the hub under
    # their existing audit entries (nodes/national/resend.py). Receipted: a refusal comes back with
    # its reason.
    MessageType("resend.request", "node", header=Obj(), receipted=True, retention_days=730,
                body=Obj(required={"since": TIMESTAMP, "until": TIMESTAMP},
                         optional={"held": List(UUID, max_items=1000)}), body_rule=window_rule),
))
