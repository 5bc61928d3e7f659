"""Public health over GraphQL: the DHIS2 indicators (the export's values), push states and the
pushToDhis2 mutation; the same use cases as /api/public-health. Role public_health or admin."""

import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.errors import DomainError
from resolvers.principal import Role
from resolvers.public_health.dhis2.export import ExportPart
from resolvers.public_health.dhis2.model import ImportStrategy, PushRecord, PushState
from schema.errors import ForbiddenError, NotFoundError, ValidationError, to_user_error
from schema.graphql_context import Info
from schema.permissions import has_role

strawberry.enum(PushState, name="Dhis2PushState")
strawberry.enum(ImportStrategy, name="Dhis2ImportStrategy")
IsPublicHealth = has_role(Role.PUBLIC_HEALTH)


@strawberry.type
class Dhis2DataValue:
    indicator: str | None = strawberry.field(description="Our indicator code")
    data_element: str
    category_option_combo: str | None
    period: str
    org_unit: str
    value: str


@strawberry.type
class Dhis2DataSetValues:
    data_set: str = strawberry.field(description="The DHIS2 data set UID")
    key: str = strawberry.field(description="The mapping's name of the data set")
    period: str
    period_type: str
    start: datetime.date
    end: datetime.date = strawberry.field(description="Exclusive")
    data_values: list[Dhis2DataValue]


def _values(part: ExportPart, indicators: dict[str, str]) -> Dhis2DataSetValues:
    return Dhis2DataSetValues(
        data_set=part.data_set.uid, key=part.data_set.key, period=part.period.id,
        period_type=part.period.type.value, start=part.period.start, end=part.period.end,
        data_values=[Dhis2DataValue(
            indicator=indicators.get(v.data_element), data_element=v.data_element,
            category_option_combo=v.category_option_combo, period=v.period or part.period.id,
            org_unit=v.org_unit or part.values.org_unit, value=v.value)
            for v in part.values.values])


@strawberry.type
class Dhis2Conflict:
    object: str | None
    value: str
    error_code: str | None
    property: str | None
    indexes: list[int]


@strawberry.type
class Dhis2ImportSummary:
    status: str
    http_status: int
    description: str | None
    imported: int
    updated: int
    ignored: int
    deleted: int
    conflicts: list[Dhis2Conflict]

    @classmethod
    def of(cls, s: dict[str, Any]) -> "Dhis2ImportSummary":
        counts = s.get("import_count") or {}
        return cls(status=str(s.get("status")), http_status=int(s.get("http_status") or 0),
                   description=s.get("description"),
                   imported=int(counts.get("imported", 0)), updated=int(counts.get("updated", 0)),
                   ignored=int(counts.get("ignored", 0)), deleted=int(counts.get("deleted", 0)),
                   conflicts=[Dhis2Conflict(object=c.get("object"), value=str(c.get("value")),
                                            error_code=c.get("error_code"),
                                            property=c.get("property"),
                                            indexes=list(c.get("indexes") or []))
                              for c in s.get("conflicts") or []])


@strawberry.type
class Dhis2Push:
    id: strawberry.ID
    state: PushState
    dhis2_url: str
    dataset: str
    period: str
    org_unit: str | None
    dry_run: bool
    import_strategy: str
    attempts: int
    last_error: str | None
    created_by: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    summary: Dhis2ImportSummary | None
    data_value_set: JSON

    @classmethod
    def of(cls, p: PushRecord) -> "Dhis2Push":
        return cls(id=strawberry.ID(p.id), state=p.state, dhis2_url=p.instance_url,
                   dataset=p.data_set, period=p.period, org_unit=p.org_unit, dry_run=p.dry_run,
                   import_strategy=p.import_strategy.value, attempts=p.attempts,
                   last_error=p.last_error, created_by=p.created_by, created_at=p.created_at,
                   updated_at=p.updated_at,
                   summary=Dhis2ImportSummary.of(p.summary) if p.summary else None,
                   data_value_set=cast(JSON, p.payload))


@strawberry.input
class PushToDhis2Input:
    dhis2_url: str
    dataset: str
    period: str | None = None
    org_unit: str | None = None
    dry_run: bool = False
    import_strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE


PushToDhis2Result = Annotated[Dhis2Push | ValidationError | NotFoundError | ForbiddenError,
                              strawberry.union("PushToDhis2Result")]


@strawberry.type
class PublicHealthQuery:
    @strawberry.field(permission_classes=[IsPublicHealth],
                      description="Indicator values as DHIS2 data values (the export's); "
                      "absent arguments: every data set, its last complete period, all units")
    async def dhis2_indicators(self, info: Info, dataset: str | None = None,
                               period: str | None = None,
                               org_unit: str | None = None) -> list[Dhis2DataSetValues]:
        export = info.context.services.public_health.dhis2_export
        parts = await export.export(info.context.caller, dataset, period, org_unit)
        by_element = {m.data_element: code for code, m in export.mapping.indicators.items()}
        return [_values(p, by_element) for p in parts]

    @strawberry.field(permission_classes=[IsPublicHealth], description="A DHIS2 push")
    async def dhis2_push(self, info: Info, id: strawberry.ID) -> Dhis2Push | None:
        try:
            found = await info.context.services.public_health.dhis2_pushes.get(
                info.context.caller, str(id))
        except DomainError as exc:
            if exc.code == "not_found":
                return None
            raise
        return Dhis2Push.of(found)


@strawberry.type
class PublicHealthMutation:
    @strawberry.mutation(description="Push a dataValueSet to a configured DHIS2 instance "
                         "through the outbox; follow it with dhis2Push(id)")
    async def push_to_dhis2(self, info: Info, input: PushToDhis2Input) -> PushToDhis2Result:
        try:
            done = await info.context.services.public_health.dhis2_pushes.push(
                info.context.caller, dhis2_url=input.dhis2_url, data_set=input.dataset,
                period=input.period, org_unit=input.org_unit, dry_run=input.dry_run,
                strategy=input.import_strategy)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return Dhis2Push.of(done)
