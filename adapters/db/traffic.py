"""TrafficStore on SQL: each channel's messages counted per time bucket, in the database.

Every source is a table the gateway already writes with a timestamp; one GROUP BY per
source counts a window's rows per channel and bucket, the errors among them, and the
latency where both ends are stored. The bucket is the timestamp's epoch seconds divided by
the width (SQLite: from julianday(); PostgreSQL: extract(epoch)). FHIR and cross-border
traffic are counted from the audit trail (one request, however many resources it touched).
"""

# ruff: noqa: S608  (every interpolated piece is a constant of this module, never input)
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.types import UTCDateTime
from resolvers.operations.traffic.records import TrafficBucket

FHIR_TYPES = ("Patient", "Observation", "Encounter", "DiagnosticReport", "Condition",
              "MedicationRequest", "MedicationStatement", "Appointment", "Practitioner",
              "PractitionerRole", "Organization", "AllergyIntolerance", "Immunization",
              "DocumentReference", "ImagingStudy", "Procedure", "ServiceRequest", "Bundle",
              "Location", "CarePlan", "Consent", "QuestionnaireResponse")


def _bucket(col: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM {col}) / :w) AS BIGINT)"
    # julianday() is the cheapest epoch SQLite computes (strftime('%s') took half as long
    # again over a week of 90k messages); 2440587.5 is the Unix epoch's Julian day.
    return f"CAST((julianday({col}) - 2440587.5) * 86400.0 / :w AS INTEGER)"


def _latency(start: str, end: str, dialect: str) -> str:
    """Milliseconds from start to end; NULL when end is."""
    if dialect == "postgresql":
        return f"(extract(epoch FROM ({end} - {start})) * 1000.0)"
    return f"((julianday({end}) - julianday({start})) * 86400000.0)"


def _requests() -> str:
    # A request id groups one request's records; internal work without one counts per record.
    return "count(DISTINCT CASE WHEN request_id <> '' THEN request_id ELSE id END)"


def statements(dialect: str) -> list[str]:
    def b(col: str) -> str:
        return _bucket(col, dialect)

    def lat(start: str, end: str) -> str:
        return _latency(start, end, dialect)

    fhir = ", ".join(f"'{t}'" for t in FHIR_TYPES)
    return [
        f"SELECT channel AS ch, {b('received_at')} AS bk, count(*) AS n, 0 AS e, "
        "0.0 AS ls, 0 AS lc FROM lab_results WHERE received_at >= :since GROUP BY 1, 2",
        f"SELECT 'hl7-refused' AS ch, {b('received_at')} AS bk, count(*) AS n, count(*) AS e, "
        "0.0 AS ls, 0 AS lc FROM lab_message_conflicts WHERE received_at >= :since "
        "GROUP BY 1, 2",
        f"SELECT 'webhook:' || provider AS ch, {b('received_at')} AS bk, count(*) AS n, "
        "sum(CASE WHEN status IN ('failed', 'dead') THEN 1 ELSE 0 END) AS e, "
        f"coalesce(sum({lat('received_at', 'processed_at')}), 0.0) AS ls, "
        "count(processed_at) AS lc FROM webhook_events WHERE received_at >= :since "
        "GROUP BY 1, 2",
        f"SELECT 'outbox:' || destination AS ch, {b('created_at')} AS bk, count(*) AS n, "
        "sum(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS e, "
        f"coalesce(sum({lat('created_at', 'delivered_at')}), 0.0) AS ls, "
        "count(delivered_at) AS lc FROM outbox_messages WHERE created_at >= :since "
        "GROUP BY 1, 2",
        f"SELECT 'dhis2' AS ch, {b('created_at')} AS bk, count(*) AS n, "
        "sum(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS e, "
        "coalesce(sum(CASE WHEN state IN ('success', 'partial', 'dead') THEN "
        f"{lat('created_at', 'updated_at')} END), 0.0) AS ls, "
        "sum(CASE WHEN state IN ('success', 'partial', 'dead') THEN 1 ELSE 0 END) AS lc "
        "FROM dhis2_pushes WHERE created_at >= :since GROUP BY 1, 2",
        f"SELECT 'notifications:whatsapp' AS ch, {b('created_at')} AS bk, count(*) AS n, "
        "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS e, "
        f"coalesce(sum({lat('send_at', 'status_at')}), 0.0) AS ls, "
        "count(status_at) AS lc FROM whatsapp_messages WHERE created_at >= :since "
        "GROUP BY 1, 2",
        f"SELECT 'fhir' AS ch, {b('recorded_at')} AS bk, {_requests()} AS n, "
        "count(DISTINCT CASE WHEN outcome <> 'success' THEN "
        "CASE WHEN request_id <> '' THEN request_id ELSE id END END) AS e, "
        f"0.0 AS ls, 0 AS lc FROM audit_events WHERE recorded_at >= :since "
        f"AND resource_type IN ({fhir}) AND surface IN ('rest', 'graphql') GROUP BY 1, 2",
        f"SELECT 'cross-border' AS ch, {b('recorded_at')} AS bk, {_requests()} AS n, "
        "count(DISTINCT CASE WHEN outcome = 'failure' THEN "
        "CASE WHEN request_id <> '' THEN request_id ELSE id END END) AS e, "
        "0.0 AS ls, 0 AS lc FROM audit_events WHERE recorded_at >= :since "
        "AND resource_type = 'CrossBorderPatient' GROUP BY 1, 2",
    ]


class SqlTrafficStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statements = [
            text(sql).bindparams(bindparam("since", type_=UTCDateTime()))
            for sql in statements(engine.dialect.name)]

    async def buckets(self, since: datetime, width_seconds: int) -> list[TrafficBucket]:
        out: list[TrafficBucket] = []
        async with self._engine.connect() as conn:
            for stmt in self._statements:
                for r in await conn.execute(stmt, {"since": since, "w": width_seconds}):
                    out.append(TrafficBucket(str(r.ch), int(r.bk), int(r.n), int(r.e or 0),
                                             float(r.ls or 0.0), int(r.lc or 0)))
        return out
