"""The auditor's console in a real Chromium: an entry's inclusion proof checked in the browser,
its bundle downloaded and verified offline, a thread's sequence diagram, trail search, checkpoint."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from crypto.audit_bundle import verify_bundle
from crypto.witness import required_quorum
from tests.browser.conftest import Consoles, screenshot
from tests.integration.federation import eventually

pytestmark = pytest.mark.integration

THREAD = "t-hub/1"  # thread names may hold "/"


@pytest.fixture(scope="module")
async def thread_traffic(consoles: Consoles) -> dict:
    """A note MEX → IDN on THREAD, IDN's receipt, and a replay of the note the hub rejects; all
    covered by a checkpoint every witness cosigned."""
    fed = consoles.fed
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "x"}, thread=THREAD)
    await eventually(lambda: fed.nodes["MEX"].store.receipts_for(sent.id), what="IDN's receipt at MEX")
    from protocol import envelope as wire

    replay = fed.nodes["MEX"].build("note", ["IDN"], body={"text": "y"}, thread=THREAD, message_id=sent.id)
    await fed.publish_raw("MEX", wire.encode(replay))  # another message under a spent id
    await eventually(lambda: [e for e in fed.audit(message_id=sent.id) if e["verdict"] == "rejected"],
                     what="the replay rejected on the audit log")
    last = max(e["seq"] for e in fed.audit(thread=THREAD))
    quorum = required_quorum(fed.federation.directory)
    await eventually(lambda: (fed.hub.store.newest_cosigned(quorum) or 0) > last,
                     what="a checkpoint covering it, cosigned by every witness")
    [accepted] = [e for e in fed.audit(message_id=sent.id) if e["verdict"] == "accepted"]
    return {"message_id": sent.id, "seq": accepted["seq"]}


async def test_entry_page_verifies_the_inclusion_proof_in_the_browser(consoles: Consoles, thread_traffic: dict,
                                                                      new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/entries/{thread_traffic['seq']}")
    await page.wait_for_selector("#proof-status.verified")
    assert await page.text_content("#proof-status") == "matches the hub's checkpoint"
    assert thread_traffic["message_id"] in await page.text_content("#entry")
    signers = await page.locator("#signatures tbody tr").all_text_contents()
    assert any(consoles.fed.hub.store.key_name in s and "hub" in s for s in signers)
    assert consoles.fed.hub.store.key_name in await page.text_content("#checkpoint-note")
    await screenshot(page, "hub-entry")

    # The verifier itself fails on a proof hash flipped by one bit, and on a shortened proof.
    data = json.loads(await page.text_content("#proof-data"))
    assert data["proof"], "the log has several entries, so the proof is not empty"
    flipped = bytearray(base64.b64decode(data["proof"][0]))
    flipped[0] ^= 1
    tampered = {**data, "proof": [base64.b64encode(bytes(flipped)).decode(), *data["proof"][1:]]}
    assert await page.evaluate("d => window.somexVerifyInclusion(d)", tampered) == \
        "the proof leads to another root than the checkpoint's"
    assert "the path has" in await page.evaluate("d => window.somexVerifyInclusion(d)", {**data, "proof": data["proof"][1:]})


async def test_entry_page_checks_against_a_checkpoint_the_auditor_holds(consoles: Consoles, thread_traffic: dict,
                                                                        new_page) -> None:  # noqa: ANN001
    # The page says its own check cannot prove the hub honest, and lets the auditor pin a checkpoint
    # obtained elsewhere (here: a witness node's latest cosigned one, or a forged one of that size).
    from nodes.national.witness import latest_cosigned_note

    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/entries/{thread_traffic['seq']}")
    assert "cannot show that the hub is honest" in await page.text_content("#trust-note")
    size, held = latest_cosigned_note(consoles.fed.nodes["IDN"])
    assert size > thread_traffic["seq"]
    await page.fill("#pinned-checkpoint", held)
    await page.click("#check-pinned")
    await page.wait_for_selector("#pinned-status.verified")
    assert (await page.text_content("#pinned-status")).startswith(f"included in the checkpoint you supplied (size {size})")
    lines = held.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()  # the same size, another root: not the log the hub serves
    await page.fill("#pinned-checkpoint", "\n".join(lines))
    await page.click("#check-pinned")
    await page.wait_for_selector("#pinned-status.rejected")
    assert await page.text_content("#pinned-status") == "FAILED: the proof leads to another root than the checkpoint's"


async def test_entry_page_shows_failure_when_the_served_root_is_tampered(consoles: Consoles, thread_traffic: dict,
                                                                         new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")

    async def swap_root(route) -> None:  # noqa: ANN001
        response = await route.fetch()
        html = await response.text()
        forged = base64.b64encode(bytes(32)).decode()
        html = re.sub(r'"root": "[^"]+"', f'"root": "{forged}"', html, count=1)
        await route.fulfill(response=response, body=html)

    url = f"{consoles.urls['HUB']}/console/entries/{thread_traffic['seq']}"
    await page.route(url, swap_root)
    await page.goto(url)
    await page.wait_for_selector("#proof-status.rejected")
    assert (await page.text_content("#proof-status")).startswith("FAILED: ")


async def test_downloaded_bundle_verifies_offline(consoles: Consoles, thread_traffic: dict, new_page,
                                                  tmp_path: Path) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/entries/{thread_traffic['seq']}")
    async with page.expect_download() as info:
        await page.click("#download-bundle")
    download = await info.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    bundle = json.loads(target.read_text())
    report = verify_bundle(bundle, consoles.fed.federation.root_cert)
    assert report.ok, report.findings
    assert thread_traffic["seq"] in [e["index"] for e in bundle["entries"]]
    assert bundle["scope"]["message_id"] == thread_traffic["message_id"]


async def test_thread_diagram_has_a_lane_per_country_and_an_arrow_per_entry(consoles: Consoles, thread_traffic: dict,
                                                                            new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/threads/{THREAD}")
    trail = consoles.fed.audit(thread=THREAD)
    lanes = await page.eval_on_selector_all("svg#sequence g.lane", "gs => gs.map(g => g.dataset.country)")
    involved = {c for e in trail for c in [e["sender"], *e["recipients"]]}
    assert set(lanes) == involved | {"HUB"} and len(lanes) == len(set(lanes))
    arrows = await page.eval_on_selector_all(
        "svg#sequence g.arrow", "gs => gs.map(g => [Number(g.dataset.seq), g.dataset.verdict, g.getAttribute('class')])")
    assert [a[0] for a in arrows] == [e["seq"] for e in trail]
    rejected = [a for a in arrows if a[1] == "rejected"]
    assert len(rejected) == 1 and "rejected" in rejected[0][2]
    assert any("receipt" in a[2] for a in arrows)
    await page.click(f"svg#sequence g.arrow[data-seq='{thread_traffic['seq']}'] text")
    await page.wait_for_url(f"**/console/entries/{thread_traffic['seq']}")
    await page.go_back()
    await screenshot(page, "hub-thread")


async def test_trail_search_finds_the_entries_of_a_message(consoles: Consoles, thread_traffic: dict,
                                                           new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/trails")
    await page.fill("#f-message_id", thread_traffic["message_id"])
    await page.click("#search button[type=submit]")
    await page.wait_for_url("**/console/trails?*")
    seqs = await page.eval_on_selector_all("table#entries tbody tr[data-seq]", "rs => rs.map(r => Number(r.dataset.seq))")
    assert seqs == [e["seq"] for e in consoles.fed.audit(message_id=thread_traffic["message_id"])]
    assert thread_traffic["seq"] in seqs
    await screenshot(page, "hub-trails")
    assert await page.locator("#next-page").count() == 0  # two rows: one page
    await page.goto(f"{page.url}&after={seqs[0]}")
    assert await page.eval_on_selector_all("table#entries tbody tr[data-seq]",
                                           "rs => rs.map(r => Number(r.dataset.seq))") == seqs[1:]
    await page.go_back()
    await page.click(f"table#entries tr[data-seq='{thread_traffic['seq']}'] a[href^='/console/threads/']")
    await page.wait_for_selector("svg#sequence")


async def test_checkpoint_page_shows_the_signed_note(consoles: Consoles, thread_traffic: dict,
                                                     new_page) -> None:  # noqa: ANN001
    store = consoles.fed.hub.store
    witnessed = await eventually(store.witnessed_sizes, what="a witness cosignature")
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/checkpoint")
    size, _ = store.latest_checkpoint()
    assert int(await page.text_content("#checkpoint-size")) >= size
    assert store.key_name in await page.text_content("#checkpoint-note")
    shown = await page.eval_on_selector_all("#witnessed tbody tr[data-witness]", "rs => rs.map(r => r.dataset.witness)")
    assert set(witnessed) <= set(shown)
    await screenshot(page, "hub-checkpoint")


async def test_volume_page_counts_each_pair_per_hour(consoles: Consoles, thread_traffic: dict,
                                                     new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/volume")
    note = next(e for e in consoles.fed.audit(message_id=thread_traffic["message_id"]) if e["verdict"] == "accepted")
    hour = note["received_at"][:13]
    expected = sum(1 for e in consoles.fed.audit(sender="MEX", recipient="IDN", verdict="accepted")
                   if e["received_at"].startswith(hour))
    bar = page.locator(f"svg#volume g.pair[data-sender=MEX][data-recipient=IDN] rect.bar[data-hour='{hour}']")
    assert int(await bar.get_attribute("data-count")) == expected >= 1
    row = page.locator(f"#volume-table tr[data-hour='{hour}'][data-sender=MEX][data-recipient=IDN] td").last
    assert int(await row.text_content()) == expected
    await screenshot(page, "hub-volume")


@pytest.mark.parametrize(("path", "status", "heading"), [
    ("/console/entries/99999", 404, "No such entry"), ("/console/entries/abc", 400, "Not an entry number"),
    ("/console/trails?after=x", 400, "Bad paging value"), ("/console/volume?hours=0", 400, "Bad window")])
async def test_bad_addresses_get_an_explained_refusal(consoles: Consoles, new_page, path: str, status: int,
                                                      heading: str) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    response = await page.goto(f"{consoles.urls['HUB']}{path}")
    assert response.status == status
    assert heading in await page.text_content("main")


async def test_entry_after_the_latest_checkpoint_is_shown_as_not_yet_covered(consoles: Consoles, thread_traffic: dict,
                                                                             new_page) -> None:  # noqa: ANN001
    # The witnesses' cosignatures are logged after the checkpoint they cosign; cosignatures alone
    # do not make the hub sign a new checkpoint for minutes (idle_checkpoint_interval).
    store = consoles.fed.hub.store
    await eventually(lambda: store.size > store.latest_checkpoint()[0], what="an entry after the latest checkpoint")
    uncovered = store.latest_checkpoint()[0]
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/entries/{uncovered}")
    assert await page.text_content("#proof-status") == "not yet covered by a checkpoint"
    assert await page.locator("#proof-data").count() == 0
    assert await page.locator("#download-bundle").count() == 0
    response = await page.goto(f"{consoles.urls['HUB']}/console/entries/{uncovered}/bundle")
    assert response.status == 409
    assert "Not yet covered by a witnessed checkpoint" in await page.text_content("main")


async def test_trails_show_the_broker_user_when_it_is_not_the_senders(consoles: Consoles, thread_traffic: dict,
                                                                      new_page) -> None:  # noqa: ANN001
    """Issue 21: a note claiming IDN as sender, published with MEX's broker account, is rejected; the
    trail row says who really sent it, not only the sender it claims."""
    from protocol import envelope as wire

    fed = consoles.fed
    forged = fed.nodes["IDN"].build("note", ["ITA"], body={"text": "claims IDN"}, thread="t-hub/forged")
    await fed.publish_raw("MEX", wire.encode(forged))
    await eventually(lambda: [e for e in fed.audit(message_id=forged.id) if e["verdict"] == "rejected"],
                     what="the forged note rejected")
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/trails?message_id={forged.id}")
    [entry] = [e for e in fed.audit(message_id=forged.id) if e["verdict"] == "rejected"]
    row = page.locator(f"table#entries tr[data-seq='{entry['seq']}']")
    sent_by = row.locator("td.sender .sent-by")
    assert (await sent_by.text_content()).strip() == "sent by MEX's broker account"
    assert await sent_by.get_attribute("data-broker-user") == fed.federation.directory.node("MEX").broker_user
    assert "does not belong to the country named as sender" in await row.text_content()  # sender_mismatch in words
    # An honest entry shows no such line.
    await page.goto(f"{consoles.urls['HUB']}/console/trails?message_id={thread_traffic['message_id']}")
    assert await page.locator(f"table#entries tr[data-seq='{thread_traffic['seq']}'] .sent-by").count() == 0


async def test_trail_filters_explain_a_bad_value_and_take_any_case(consoles: Consoles, thread_traffic: dict,
                                                                   new_page) -> None:  # noqa: ANN001
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    base = f"{consoles.urls['HUB']}/console/trails"
    await page.goto(f"{base}?sender=mex&message_id={thread_traffic['message_id']}")
    await page.locator(f"table#entries tr[data-seq='{thread_traffic['seq']}']").wait_for()
    for query, expected in (("since=yesterday", "since: a UTC time like 2026-11-23"),
                            ("until=2026-13-45", "is not a real date or time"),
                            ("sender=XXX", "sender: the code of a member"),
                            ("recipient=mexico", "recipient: the code of a member"),
                            ("type=notes", "type: one of")):
        response = await page.goto(f"{base}?{query}")
        assert response.status == 400, query
        assert expected in await page.text_content("#filter-error"), query
        assert "No entries match." not in await page.text_content("main"), query


async def test_thread_diagram_labels_stay_clear_of_the_lanes_and_mark_each_sender(consoles: Consoles,
                                                                                  thread_traffic: dict,
                                                                                  new_page) -> None:  # noqa: ANN001
    fed = consoles.fed
    await fed.nodes["MEX"].send("note", ["IDN", "ITA"], body={"text": "to both"}, thread=THREAD + "/multi")
    await eventually(lambda: fed.audit(thread=THREAD + "/multi"), what="the multicast audited")
    page = await new_page()
    await consoles.log_in(page, "HUB", "auditor")
    await page.goto(f"{consoles.urls['HUB']}/console/threads/{THREAD}/multi")
    geometry = await page.evaluate("""() => {
        const lanes = [...document.querySelectorAll('svg#sequence g.lane line')].map(l => Number(l.getAttribute('x1')));
        const lane = Object.fromEntries([...document.querySelectorAll('svg#sequence g.lane')]
            .map(g => [g.dataset.country, Number(g.querySelector('line').getAttribute('x1'))]));
        return {lanes, lane, arrows: [...document.querySelectorAll('svg#sequence g.arrow')].map(g => {
            const box = g.querySelector('text').getBBox();
            const origin = g.querySelector('circle.origin');
            return {sender: g.dataset.sender, right: box.x + box.width, text: g.querySelector('text').textContent,
                    origin: origin ? Number(origin.getAttribute('cx')) : null};
        })};
    }""")
    assert geometry["arrows"], "no arrows drawn"
    for arrow in geometry["arrows"]:
        assert arrow["right"] < min(geometry["lanes"]), f"label crosses a lane: {arrow['text']}"
        assert arrow["origin"] == geometry["lane"][arrow["sender"]], f"sender not marked: {arrow['text']}"
    multicast = next(a for a in geometry["arrows"] if a["text"].startswith("#") and "IDN, ITA" in a["text"])
    assert multicast["sender"] == "MEX" and "MEX → IDN, ITA" in multicast["text"]
