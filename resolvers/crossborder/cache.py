"""A short cache of HIE answers, off by default (``CARI_HIE_CACHE_SECONDS``, at most 300).

An answer is kept per HIE, identifier system, national id *and purpose of use*: it is served
again only for the same purpose, and never longer than the configured seconds, so it cannot
outlive the consent the first lookup was made under. Only answers are kept (found or not
found), never failures. Each lookup is audited whether or not the cache answered it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from resolvers.crossborder.model import CountryOutcome

MAX_SECONDS = 300.0
MAX_ENTRIES = 10_000

Key = tuple[str, str, str, str]  # HIE base, identifier system, national id, purpose


class AnswerCache:
    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._seconds = min(max(seconds, 0.0), MAX_SECONDS)
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[float, CountryOutcome]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._seconds > 0

    def get(self, key: Key) -> CountryOutcome | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if self._clock() >= found[0]:
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: Key, outcome: CountryOutcome) -> None:
        if not self.enabled:
            return
        self._entries[key] = (self._clock() + self._seconds, outcome)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
