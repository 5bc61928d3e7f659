"""The catalogue events of lab ingest, review and alerts (resolvers/notifications), written
as outbox rows in the same transaction as the change. Ids, statuses and levels only: never a
name or a result value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from resolvers.labs.records import LabAlert, LabResult, MpiLink, ReviewTask
from resolvers.notifications.events import webhook_event
from resolvers.outbox.model import NewOutboxMessage


def alert_raised(alert: LabAlert, at: datetime) -> NewOutboxMessage:
    return webhook_event("lab.alert.raised", {
        "alert_id": alert.id, "lab_result_id": alert.lab_result_id,
        "patient_id": alert.patient_id, "observation_id": alert.observation_id,
        "escalation_level": alert.escalation_level},
        at, key=f"{alert.id}:{alert.escalation_level}")


def alert_acknowledged(alert: LabAlert, who: str, at: datetime) -> NewOutboxMessage:
    return webhook_event("lab.alert.acknowledged", {
        "alert_id": alert.id, "lab_result_id": alert.lab_result_id,
        "patient_id": alert.patient_id, "acknowledged_by": who,
        "acknowledged_at": at.isoformat()}, at, key=alert.id)


def link_created(link: MpiLink, at: datetime) -> NewOutboxMessage:
    return webhook_event("mpi.link.created", {
        "link_id": link.id, "lab_result_id": link.lab_result_id,
        "patient_id": link.patient_id, "method": link.method}, at, key=link.id)


def link_undone(link: MpiLink, at: datetime) -> NewOutboxMessage:
    return webhook_event("mpi.link.undone", {
        "link_id": link.id, "lab_result_id": link.lab_result_id,
        "patient_id": link.patient_id}, at, key=link.id)


def review_created(task: ReviewTask, at: datetime) -> NewOutboxMessage:
    return webhook_event("mpi.review.created", {
        "review_task_id": task.id, "lab_result_id": task.lab_result_id,
        "candidate_patient_id": task.candidate_patient_id}, at, key=task.id)


def ingest_events(results: Sequence[LabResult], corrected: set[str], alerts: Iterable[LabAlert],
                  tasks: Iterable[ReviewTask], links: Iterable[MpiLink],
                  at: datetime) -> list[NewOutboxMessage]:
    """What one ingest transaction announces: each result, the observations a correction
    gave a new version, each alert, review task and automatic link."""
    events: list[NewOutboxMessage] = []
    for r in results:
        events.append(webhook_event("lab.result.created", {
            "lab_result_id": r.id, "patient_id": r.patient_id,
            "patient_matched": r.patient_id is not None, "report_ids": list(r.report_ids),
            "observation_ids": list(r.observation_ids)}, at, key=r.id))
        changed = [o for o in r.observation_ids if o in corrected]
        if changed:
            events.append(webhook_event("lab.result.corrected", {
                "lab_result_id": r.id, "patient_id": r.patient_id,
                "observation_ids": changed}, at, key=r.id))
    events += [alert_raised(a, at) for a in alerts]
    events += [review_created(t, at) for t in tasks]
    events += [link_created(link, at) for link in links]
    return events
