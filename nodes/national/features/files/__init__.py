"""Evidence files of any size (up to 2 GiB), sent in sealed 4 MiB chunks (docs/evidence-files.md).

Other features (MLA) reach the service through `ctx.service_of("files")`: `spool`/`spool_file` an
upload, `send_with` in the transaction that queues the carrier message, `expect` in the one that
stores a received carrier."""

from datetime import timedelta

from nodes.national.feature import Feature
from nodes.national.features.files import api, transfers

FEATURE = Feature(
    name="files",
    tables=(transfers.metadata,),
    service=transfers.FileTransfers,
    effects={"file.chunk": transfers.on_chunk},
    stored_without_copy=frozenset({"file.chunk"}),  # the chunk's bytes go to the file being reassembled
    receipt_effects=(transfers.on_receipt,),
    sent_bytes=transfers.sent_bytes,  # a queued chunk's signed bytes live in files/sealed/, not in the outbox
    tasks=(transfers.pump, transfers.watch),
    routes=lambda app, ctx: api.add_routes(app, ctx.service),
    settings={"file_timeout": timedelta(hours=24),  # a file not complete by then is failed: file_incomplete
              "file_sweep_interval": 60.0},  # seconds between checks of that timeout
)
