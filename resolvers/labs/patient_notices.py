"""The outbox notice that a lab result now belongs to a patient, for capabilities that tell
the patient (resolvers/messaging_uses: "your results are ready"). Written in the transaction
that links the result (ingest when matched, a review's link), only when some capability
handles it; ids only."""

from __future__ import annotations

from resolvers.outbox.model import NewOutboxMessage

LAB_RESULT_LINKED = "lab_result_linked"


def linked_notice(lab_result_id: str, patient_id: str) -> NewOutboxMessage:
    return NewOutboxMessage(LAB_RESULT_LINKED, {"lab_result_id": lab_result_id,
                                                "patient_id": patient_id},
                            f"{lab_result_id}:{patient_id}")
