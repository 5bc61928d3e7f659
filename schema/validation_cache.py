"""Validation results cached by the query text.

Strawberry's ValidationCache keys its LRU cache by the parsed document, and a document's
hash walks every node of it on every request (about 5 µs for a patient query with a nested
selection, against 1 µs for ``{ __typename }``). The text is hashed in C, and the parser
cache (ParserCache) turns one text into one document, so the text identifies the document
as well. The rules are those of one schema, built once (schema/build.py), and none of them
depends on variables.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class ValidationResults:
    """One schema's validation errors by query text, the ``maxsize`` last used."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._errors: OrderedDict[str, list[GraphQLError]] = OrderedDict()

    def get(self, text: str) -> list[GraphQLError] | None:
        found = self._errors.get(text)
        if found is not None:
            self._errors.move_to_end(text)
        return found

    def put(self, text: str, errors: list[GraphQLError]) -> None:
        self._errors[text] = errors
        if len(self._errors) > self.maxsize:
            self._errors.popitem(last=False)


class TextValidationCache(SchemaExtension):
    def __init__(self, results: ValidationResults) -> None:
        self.results = results

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        text, document = context.query, context.graphql_document
        if text is not None and document is not None:
            errors = self.results.get(text)
            if errors is None:
                errors = validate_document(context.schema._schema, document,
                                           context.validation_rules)
                self.results.put(text, errors)
            context.pre_execution_errors = errors
        yield  # without a text, Strawberry validates the document itself
