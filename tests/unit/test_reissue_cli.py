"""`somex federation reissue` (issue 16): the root operator grants a federation's members the
message types of protocol/catalog.py they lack (a class added after the federation was created) in
a new root-signed directory, prints what it adds, keeps every other field, and refuses without the
root key or for a type the catalog does not list, leaving the directory as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nodes.app.ceremony import init_federation
from nodes.app.cli import main
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation import COUNTRY_TYPES, DIRECTORY_FILE, load_federation

PERSON_TYPES = {"person.alert", "person.hit"}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:  # noqa: ANN001
    """A federation whose directory was signed before person alerts existed: MEX and IDN lack them;
    ITA was admitted later with only notes."""
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "reissue-cli", ["MEX", "IDN", "ITA"], utcnow(),
                    allowed_types={"MEX": set(COUNTRY_TYPES - PERSON_TYPES), "IDN": set(COUNTRY_TYPES - PERSON_TYPES),
                                   "ITA": {"note"}})
    return path


@pytest.fixture
def root(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "federation"))


def _directory(root: Path):  # noqa: ANN202
    return load_federation(root, utcnow()).directory


def test_the_types_a_member_lacks_are_granted_in_the_next_serial_and_every_other_field_kept(
        root: Path, capsys) -> None:  # noqa: ANN001
    before = _directory(root)
    assert main(["federation", "reissue", "--root", str(root), "--type", "person.alert",
                 "--type", "person.hit"]) == 0
    out = capsys.readouterr().out
    assert "IDN: + person.alert, person.hit" in out and "MEX: + person.alert, person.hit" in out
    assert "ITA: + person.alert, person.hit" in out and "HUB" not in out.split("directory serial")[0]
    after = _directory(root)
    assert after.serial == before.serial + 1 and f"directory serial {after.serial}" in out
    for node_id, entry in before.nodes.items():
        new = after.node(node_id)
        granted = set() if node_id == "HUB" else PERSON_TYPES
        assert new.allowed_types == entry.allowed_types | granted
        assert (new.certificates, new.broker_user, new.sealing_key, new.hybrid_sealing_key) == \
            (entry.certificates, entry.broker_user, entry.sealing_key, entry.hybrid_sealing_key)
    assert (after.federation, after.witness_policy) == (before.federation, before.witness_policy)
    assert after.node("ITA").allowed_types == {"note", *PERSON_TYPES}  # --type: nothing else given to ITA


def test_without_types_every_catalog_type_a_member_lacks_is_granted(root: Path, capsys) -> None:  # noqa: ANN001
    assert main(["federation", "reissue", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "MEX: + person.alert, person.hit\n" in out
    assert f"ITA: + {', '.join(sorted(COUNTRY_TYPES - {'note'}))}\n" in out
    assert all(_directory(root).node(c).allowed_types == COUNTRY_TYPES for c in ("MEX", "IDN", "ITA"))
    # Run again: nothing left to grant, the directory is only renewed (next serial), and it says so
    serial = _directory(root).serial
    assert main(["federation", "reissue", "--root", str(root)]) == 0
    assert "no type to grant" in capsys.readouterr().out and _directory(root).serial == serial + 1


def test_without_the_root_key_or_with_a_type_the_catalog_does_not_list_nothing_is_signed(
        root: Path, capsys) -> None:  # noqa: ANN001
    signed = (root / DIRECTORY_FILE).read_bytes()
    assert main(["federation", "reissue", "--root", str(root), "--type", "person.gossip"]) == 2
    assert "person.gossip" in capsys.readouterr().err
    (root / "root" / "root.key").unlink()  # a host that is not the root operator's
    assert main(["federation", "reissue", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "root.key is missing" in err and len(err.strip().splitlines()) == 1
    assert (root / DIRECTORY_FILE).read_bytes() == signed
