"""Published federation documents, without a broker: what may replace the documents in use
(crypto.directory.check_publication) and how a holder records and applies one
(nodes.plumbing.federation_state.accept_publication)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from crypto.directory import check_publication, publication_kind
from crypto.errors import DirectoryError
from nodes.plumbing.federation import DIRECTORY_FILE, REVOCATIONS_FILE, load_federation
from nodes.app.root_operator import reissue_directory, revoke
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation_state import accept_publication, admit_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    init_federation(tmp_path / "f", "unit", ["MEX", "IDN"], NOW)
    return tmp_path / "f"


def test_kind_is_named_by_the_first_member() -> None:
    assert publication_kind(b'{"directory":{}}') == "directory"
    assert publication_kind(b'{"revocations":{}}') == "revocations"
    for raw in (b"", b'{"sig":{},"directory":{}}', b' {"directory":{}}', b"[]"):
        with pytest.raises(DirectoryError) as caught:
            publication_kind(raw)
        assert caught.value.reason == "malformed"


def test_only_a_higher_serial_replaces_the_document_in_use(home: Path) -> None:
    held = load_federation(home, NOW)
    same = (home / DIRECTORY_FILE).read_bytes()
    with pytest.raises(DirectoryError) as caught:
        check_publication(same, held.root_cert, held.directory, held.revocations, NOW)
    assert caught.value.reason == "stale_directory"
    reissue_directory(home, NOW)
    newer = check_publication((home / DIRECTORY_FILE).read_bytes(), held.root_cert, held.directory,
                              held.revocations, NOW)
    assert newer.serial == held.directory.serial + 1


def test_a_holder_applies_a_newer_list_records_it_and_refuses_it_twice(home: Path, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'holder.db'}")
    federation = load_federation(home, NOW)
    admit_federation(engine, federation, NOW, "MEX")
    old_file = (home / REVOCATIONS_FILE).read_bytes()
    kid = federation.credentials("IDN").signing_key.kid
    revoke(home, kid, NOW)
    raw = (home / REVOCATIONS_FILE).read_bytes()
    (home / REVOCATIONS_FILE).write_bytes(old_file)  # the holder's own copy is still the old one
    with engine.begin() as conn:
        applied, document = accept_publication(conn, federation, raw, NOW, "MEX")
    assert kid in applied.revocations.revoked and applied.trust is not federation.trust
    assert federation.revocations.serial == 1  # the old object is untouched: readers see one or the other
    assert (home / REVOCATIONS_FILE).read_bytes() == raw  # a restart starts from it
    with pytest.raises(DirectoryError) as caught, engine.begin() as conn:
        accept_publication(conn, federation, raw, NOW + timedelta(seconds=1), "MEX")  # the held serial is 2
    assert caught.value.reason == "stale_revocations"
