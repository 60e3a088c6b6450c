"""Issue 14, item 6: nothing a federation writes under its state dir is readable by another local user."""

from __future__ import annotations

import os

import aiohttp
import pytest

from tests.integration.federation import eventually
from tests.system.cli_federation import CliFederation, loose_modes

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_every_file_and_directory_of_a_running_federation_is_its_owners_alone(tmp_path) -> None:  # noqa: ANN001
    old_umask = os.umask(0o022)  # as an operator's shell: the processes must not depend on it
    fed = CliFederation(tmp_path)
    try:
        fed.must("federation", "init", "--countries", "MEX,IDN")
        fed.must("broker", "up")
        fed.start_hub()
        fed.start_node("MEX")
        fed.start_node("IDN")
        async with aiohttp.ClientSession() as session:
            for name in ("HUB", "MEX", "IDN"):
                await fed.wait_linked(session, name)
            ids = await fed.send_notes(session, "MEX", "IDN", [f"case person {i}" for i in range(5)])
            await eventually(lambda: sorted(fed.stored_notes("IDN")) == sorted(ids), timeout=60,
                             what="the notes stored at IDN")
        running = loose_modes(fed.state)  # databases with their -wal and -shm, the broker's live files
        assert (fed.state / "nodes" / "IDN" / "node.db-wal").exists(), "the WAL must exist for this check to mean anything"
        assert (fed.state / "broker" / "mnesia").is_dir()
        assert running == []
        fed.close()
        assert loose_modes(fed.state) == []
    finally:
        fed.close()
        os.umask(old_umask)
