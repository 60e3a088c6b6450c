"""`somex federation witness-policy` (issue 23): the root operator states who witnesses and the
quorum in a new root-signed directory (serial + 1, to publish); bad input is refused in one line
and leaves the directory as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crypto.witness import directory_witnesses, required_quorum
from nodes.app.cli import main
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from nodes.app.root_operator import remove_member
from nodes.plumbing.config import utcnow

COUNTRIES = ["MEX", "IDN", "ITA", "DEU"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:  # noqa: ANN001
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "policy-cli", COUNTRIES, utcnow())
    return path


@pytest.fixture
def root(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "federation"))


def _directory(root: Path):  # noqa: ANN202
    return load_federation(root, utcnow()).directory


def test_the_root_sets_witnesses_and_quorum_in_a_new_signed_directory(root: Path, capsys) -> None:  # noqa: ANN001
    serial = _directory(root).serial
    assert main(["federation", "witness-policy", "--root", str(root), "--witnesses", "mex, IDN,ita",
                 "--quorum", "2", "--cosign-interval", "60"]) == 0
    directory = _directory(root)  # load_federation checks the root's signature
    assert directory.serial == serial + 1
    assert directory_witnesses(directory) == ["MEX", "IDN", "ITA"] and required_quorum(directory) == 2
    assert directory.witness_policy.cosign_interval == 60
    assert f"directory serial {serial + 1}" in capsys.readouterr().out

    assert main(["federation", "witness-policy", "--root", str(root), "--default"]) == 0
    assert _directory(root).witness_policy is None and _directory(root).serial == serial + 2


@pytest.mark.parametrize(("options", "words"), [
    (["--quorum", "abc"], "--quorum must be a whole number"),
    (["--quorum", "-1"], "--quorum must be a whole number"),
    (["--cosign-interval", "1.5"], "--cosign-interval must be a whole number"),
    (["--witnesses", "MEX,IDN", "--quorum", "3"], "exceeds its 2 witnesses"),
    (["--quorum", "5"], "exceeds the 4 national nodes"),
    (["--quorum", "100"], "quorum is 1..99"),
    (["--quorum", "0"], "quorum is 1..99"),
    (["--witnesses", "MEX,FRA"], "not national nodes"),
    (["--witnesses", "MEX,HUB"], "not national nodes"),
    (["--witnesses", "MEX,,IDN"], "comma-separated list"),
    (["--witnesses", "MEX,mex"], "lists a node twice"),
    (["--cosign-interval", "86401"], "cosign_interval is 0..86400"),
    ([], "state the policy"),
    (["--default", "--quorum", "2"], "--default states no policy"),
])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(root: Path, capsys, options, words) -> None:  # noqa: ANN001
    before = (root / "directory.signed.json").read_bytes()
    assert main(["federation", "witness-policy", "--root", str(root), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("somex: ") and err.count("\n") == 1 and words in err, err
    assert (root / "directory.signed.json").read_bytes() == before


def test_removing_a_member_keeps_the_witness_policy_without_it(root: Path) -> None:
    assert main(["federation", "witness-policy", "--root", str(root), "--witnesses", "MEX,IDN,ITA",
                 "--quorum", "2"]) == 0
    directory = remove_member(root, "ITA", utcnow())
    assert directory_witnesses(directory) == ["MEX", "IDN"] and required_quorum(directory) == 2
    with pytest.raises(ValueError, match="set a witness policy without it first"):
        remove_member(root, "IDN", utcnow())  # the quorum of 2 would need it
