"""Issue 21, items 2 and 3: every CLI mistake is ONE line on stderr saying what is wrong and what to
do, exit code 2, never a traceback; `--state-dir` works before or after any subcommand; the hints
the CLI prints work as printed. No broker: the nodes of this federation are simply not running."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.plumbing.deployment import Deployment
from nodes.plumbing.rabbit import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


def somex(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**{k: v for k, v in os.environ.items() if k != "SOMEX_STATE_DIR"}, "PYTHONPATH": str(REPO),
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "nodes.app.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A federation of MEX and IDN in `site/fed` whose processes are not running (closed ports), an
    empty directory `site/empty`, and a bundle file that is not a bundle."""
    root = tmp_path_factory.mktemp("mistakes")
    result = somex("--state-dir", "fed", "federation", "init", "--countries", "MEX,IDN", cwd=root)
    assert result.returncode == 0, result.stderr
    Deployment(root / "fed", free_port(), hub_http_port=free_port(),
               node_http_ports={"MEX": free_port(), "IDN": free_port()}).save()
    (root / "empty").mkdir()
    (root / "bundle.json").write_text("{}")
    return root


ROOT_CRT = "fed/federation/root/root.crt"
MLA_CREATE = ("create --to IDN --reference R-1 --legal-basis untoc_article_18 --offence art6_1_a_smuggling "
              "--measure asset_tracing --summary s --language en --detail asset_tracing.institution=B "
              "--detail asset_tracing.holder=H")
MISTAKES = [
    # (command line after 'somex', words the one line must hold)
    ("--state-dir fed send --from XXX --to IDN --text hi", "XXX is not a node of the federation"),
    ("--state-dir fed send --from M3X --to IDN --text hi", "'M3X' is not a country code"),
    ("--state-dir fed send --from MEX --to IDN --text hi", "MEX's node is not running; start it with 'somex up"),
    ("--state-dir fed send --from mex --to idn --text hi", "MEX's node is not running"),
    ("send --from MEX --to IDN --text hi --state-dir fed", "MEX's node is not running"),
    ("--state-dir fed mla --node XXX list", "XXX is not a node of the federation"),
    ("--state-dir fed mla --node MEX list", "MEX's node is not running"),
    (f"--state-dir fed mla --node MEX {MLA_CREATE} --attach missing.pdf", "--attach missing.pdf: no such file"),
    (f"--state-dir fed mla --node MEX {MLA_CREATE} --detail asset_tracing.colour=red",
     "give MEASURE.FIELD=TEXT with a field of that measure's template"),
    ("--state-dir fed profile --node MEX publish missing.json", "missing.json: no such file"),
    (f"--state-dir fed feed push {EXAMPLES / 'alerts.ndjson'} --country XXX", "XXX is not a node of the federation"),
    ("--state-dir fed feed push missing.ndjson --country MEX", "no such file missing.ndjson"),
    (f"--state-dir fed feed push {EXAMPLES / 'alerts.ndjson'} --country MEX", "MEX's node is not running"),
    ("--state-dir fed inbox --node IDN", "IDN's node is not running"),
    ("--state-dir fed inbox --node XXX", "XXX is not a node of the federation"),
    ("--state-dir fed audit export --out t.json", "the hub is not running"),
    ("--state-dir fed audit export --out t.json --since yesterday", "--since='yesterday' is not an RFC 3339 UTC time"),
    ("--state-dir fed audit export --out t.json --until 2026-11-22T10:00", "--until='2026-11-22T10:00' is not"),
    ("audit verify bundle.json --root missing.crt", "cannot read the root certificate missing.crt"),
    (f"audit verify missing.json --root {ROOT_CRT}", "cannot read the bundle missing.json"),
    (f"audit verify bundle.json --root {EXAMPLES / 'alerts.ndjson'}", "is not a PEM certificate"),
    ("--state-dir empty broker up", "no federation in empty: run 'somex federation init"),
    ("--state-dir empty send --from MEX --to IDN --text hi", "no federation in empty"),
    ("--state-dir empty up", "no federation in empty"),
    ("--state-dir empty hub run", "no federation in empty"),
    ("--state-dir fed node run --country MEX --tls-cert x.pem", "--tls-cert and --tls-key go together"),
    ("--state-dir fed federation init --countries MEX,IDN", "exists"),
    ("--state-dir fed up --countries XXX", "XXX not in the federation"),
    ("frobnicate", "invalid choice: 'frobnicate'"),
    ("send --from MEX", "the following arguments are required: --to, --text (see 'somex send --help')"),
    ("mla --node MEX act 1 explode", "invalid choice: 'explode'"),
]


@pytest.mark.parametrize("command,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_one_line_with_what_to_do_and_exit_code_2(site: Path, command: str, words: str) -> None:
    result = somex(*shlex.split(command), cwd=site)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("somex") and words in lines[0], lines[0]


def test_state_dir_is_accepted_before_or_after_the_subcommand_and_from_the_environment(site: Path) -> None:
    expected = "MEX's node is not running"
    for args, env in ((["--state-dir", "fed", "inbox", "--node", "MEX"], None),
                      (["inbox", "--node", "MEX", "--state-dir", "fed"], None),
                      (["inbox", "--state-dir", "fed", "--node", "MEX"], None),
                      (["inbox", "--node", "MEX"], {"SOMEX_STATE_DIR": "fed"})):
        result = somex(*args, cwd=site, env=env)
        assert result.returncode == 2 and expected in result.stderr, (args, result.stderr)
    # a group's option after a nested subcommand too
    result = somex("mla", "--node", "MEX", "list", "--state-dir", "fed", cwd=site)
    assert expected in result.stderr, result.stderr


def test_every_hint_the_cli_prints_works_as_printed(site: Path) -> None:
    """The hint for a missing deployment names a command; run exactly that, and it is understood
    (here it fails further on, for want of RabbitMQ's data, but not on its arguments)."""
    (site / "hinted").mkdir(exist_ok=True)
    result = somex("--state-dir", "hinted", "inbox", "--node", "MEX", cwd=site)
    hint = result.stderr.split("run '", 1)[1].split("'", 1)[0]
    assert hint.startswith("somex federation init")
    done = somex(*shlex.split(hint)[1:], cwd=site)
    assert done.returncode == 0, done.stderr
    result = somex("--state-dir", "hinted", "inbox", "--node", "MEX", cwd=site)
    hint = result.stderr.split("run '", 1)[1].split("'", 1)[0]
    assert hint == "somex broker up --state-dir hinted"
    parsed = subprocess.run([sys.executable, "-c", "import sys; from nodes.app.cli import build_parser; "
                             "a = build_parser().parse_args(sys.argv[1:]); print(a.command, a.action, a.state_dir)",
                             *shlex.split(hint)[1:]], cwd=site, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, check=False)
    assert parsed.stdout.split() == ["broker", "up", "hinted"], parsed.stderr
