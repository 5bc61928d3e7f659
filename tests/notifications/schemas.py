"""Every delivered body checked against its catalogue JSON Schema (jsonschema-rs)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from resolvers.notifications.catalogue import catalogue


def assert_valid(body: dict[str, Any]) -> None:
    event_type = catalogue()[body["type"]]
    validator = jsonschema_rs.validator_for(event_type.schema())
    errors = [str(e) for e in validator.iter_errors(body)]
    assert not errors, (body, errors)
