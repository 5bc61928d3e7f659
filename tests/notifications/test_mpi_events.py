"""MPI events at the source (SQLite and PostgreSQL): a lab result held for review announces
mpi.review.created, the reviewer's link mpi.link.created, its undo mpi.link.undone (and the
review task reopened for the other candidate)."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import subscribe, webhook_app
from tests.receiver import wait_for


async def test_review_link_and_undo_are_announced(tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url) as h:
        made = await subscribe(h, receiver.url("mpi"), ["mpi.*"])
        hook = receiver.hook("mpi")
        known = await _known_patient(h)
        lookalike = await h.create_patient(
            identifiers=[{"system": "urn:test:other", "value": "X1"}], family="Odhiambo",
            given=["Grace"], birth_date="1985-12-04", gender="female")
        ingest = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
        assert ingest["patient_id"] == known["id"]  # linked at once: mpi.link.created (auto)
        await wait_for(lambda: [e["type"] for e in hook.events()] == ["mpi.link.created"])
        [auto] = hook.events()
        assert auto["data"]["method"] == "auto" and auto["data"]["patient_id"] == known["id"]

        r = await h.client.post(f"/api/mpi/links/{auto['data']['link_id']}/undo",
                                json={"reason": "wrong Grace"}, headers=h.auth("clinician"))
        assert r.status_code == 200, r.text
        await wait_for(lambda: len(hook.events()) == 3)
        by_type = {e["type"]: e for e in hook.events()}
        assert by_type["mpi.link.undone"]["data"]["link_id"] == auto["data"]["link_id"]
        review = by_type["mpi.review.created"]["data"]
        assert review["candidate_patient_id"] == lookalike["id"]
        assert review["lab_result_id"] == ingest["lab_result_id"]

        resolved = await h.client.post(f"/api/mpi/review/{review['review_task_id']}/resolve",
                                       json={"decision": "link"}, headers=h.auth("clinician"))
        assert resolved.status_code == 200, resolved.text
        await wait_for(lambda: len(hook.events()) == 4)
        linked = [e for e in hook.events() if e["type"] == "mpi.link.created"][-1]["data"]
        assert (linked["method"], linked["patient_id"]) == ("review", lookalike["id"])
        assert all(hit.verifies_with(made["secret"]) for hit in hook.ok_hits)
        for event in hook.events():
            assert_valid(event)
            assert "Odhiambo" not in str(event) and "ODHIAMBO" not in str(event)
