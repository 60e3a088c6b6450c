"""Issue 21, item 7 (item 10 of the issue): every option, argument and subcommand of `somex` says
what it is for; a group's help names its commands."""

from __future__ import annotations

import argparse

from nodes.app.cli import build_parser
from nodes.plumbing.cli_support import parser_tree


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helped = {a.dest for a in action._choices_actions if a.help}  # noqa: SLF001
            missing += [f"{parser.prog} {name}" for name in action.choices if name not in helped]
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{parser.prog} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_argument_and_subcommand_has_help_text() -> None:
    tree = parser_tree(build_parser())
    assert len(tree) > 30  # the walk reaches nested subcommands (federation init, node token create, mla act ...)
    missing = [m for p in tree for m in _undocumented(p)]
    assert missing == []


def test_every_subcommand_accepts_the_global_options() -> None:
    for parser in parser_tree(build_parser()):
        options = {o for a in parser._actions for o in a.option_strings}  # noqa: SLF001
        assert {"--state-dir", "--json"} <= options, parser.prog


def test_the_federation_group_help_names_what_it_holds() -> None:
    parser = build_parser()
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    federation_help = next(a.help for a in group._choices_actions if a.dest == "federation")  # noqa: SLF001
    [actions] = [a for a in group.choices["federation"]._actions  # noqa: SLF001
                 if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    assert set(actions.choices) == {"init", "create-root", "admit", "publish", "remove", "revoke", "sign-server",
                                   "witness-policy", "reissue"}
    for word in ("create", "admit", "remove", "revoke", "reissue", "publish", "sign", "witness"):
        assert word in federation_help


def test_the_documented_token_roles_are_accepted() -> None:
    """docs/deployment.md makes the hub's `operator` token with `node token create --role operator`."""
    from nodes.plumbing.federation import ROLES

    for role in ROLES:
        args = build_parser().parse_args(["node", "token", "create", "--role", role, "--country", "HUB"])
        assert args.role == role
