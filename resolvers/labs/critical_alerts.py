"""Critical-value alert records and their outbox deliveries (built by ingest and review)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from resolvers.ids import new_id
from resolvers.labs.critical_values import assess
from resolvers.labs.oru import OruMessage
from resolvers.labs.records import LabAlert, ReviewTask
from resolvers.labs.to_fhir import numeric_value
from resolvers.outbox.model import NewOutboxMessage

LAB_ALERTS = "lab_alerts"  # outbox destination: the ordering clinician's channel


def held_alerts(message: OruMessage, result_id: str, tasks: Sequence[ReviewTask],
                now: datetime) -> list[LabAlert]:
    """Critical values of a result nobody is linked to yet: the alert names the candidates
    and their review tasks, so whoever gets it can decide the match first."""
    candidates = tuple({"patient_id": t.candidate_patient_id, "review_task_id": t.id,
                        "grade": t.grade, "score": round(t.score, 6)} for t in tasks)
    alerts = []
    for order in message.orders:
        for obx in order.observations:
            finding = assess(obx.code, numeric_value(obx), obx.units, obx.abnormal_flags)
            if finding.critical:
                alerts.append(LabAlert(
                    id=new_id(), lab_result_id=result_id, observation_id=None, patient_id=None,
                    code=obx.code, value=alert_value(obx.values, obx.units),
                    direction=finding.direction, reason=finding.reason[:500],
                    recipient=order.ordering_provider or "ward-on-call", created_at=now,
                    candidates=candidates))
    return alerts


def alert_value(values: Sequence[str], units: str) -> str:
    return " ".join(v for v in values if v)[:180] + (f" {units[:19]}" if units else "")


def critical_alert_message(a: LabAlert) -> NewOutboxMessage:
    return alert_message(a, "lab.critical", a.recipient, f"lab-alert:{a.id}")


def alert_message(a: LabAlert, kind: str, recipient: str, key: str) -> NewOutboxMessage:
    """The outbox delivery of an alert to the ``lab_alerts`` destination's channels."""
    return NewOutboxMessage(
        LAB_ALERTS, {"type": kind, "alert_id": a.id, "recipient": recipient,
                     "lab_result_id": a.lab_result_id, "patient_id": a.patient_id,
                     "observation_id": a.observation_id, "code": a.code, "value": a.value,
                     "direction": a.direction, "reason": a.reason,
                     "candidates": list(a.candidates),
                     "escalation_level": a.escalation_level},
        key)
