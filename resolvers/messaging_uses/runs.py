"""Which scheduled messages belong to the current state of a resource.

A resource's versions fall into runs: consecutive versions that call for the same messages
(an appointment at the same start, a prescription with the same supply end). A run's
messages are keyed by the version that began it (``appointment:{id}:v{run}:...``), so

* an edit that changes nothing about them (a confirmation, a note) keeps the run and its
  keys: nothing is sent twice nor rescheduled;
* a change (a reschedule) begins a new run: the old run's keys are cancelled by prefix and
  the new ones scheduled; moving back to an earlier start is again a new run, whose keys
  were never cancelled (the scheduler keeps a cancelled key cancelled for ever);
* the current version is always the one acted on, whatever order the watch notices are
  handled in, so a late notice of an old version cannot bring old reminders back.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.fhir.model import StoredResource

# What a version calls for; None: nothing (inactive, deleted, not computable).
Signature = Callable[[dict[str, Any]], Hashable | None]


@dataclass(frozen=True)
class Runs:
    current: int | None  # the version that began the current run; None: no messages wanted
    stale: tuple[int, ...]  # earlier runs that called for messages: cancel theirs


def runs_of(versions: Sequence[StoredResource], signature: Signature) -> Runs:
    """``versions`` in any order (history is newest first); tombstones call for nothing."""
    ordered = sorted(versions, key=lambda v: v.version)
    starts: list[tuple[int, Hashable | None]] = []  # (first version, signature) per run
    for v in ordered:
        sig = None if v.deleted or not v.document else signature(v.document)
        if not starts or starts[-1][1] != sig:
            starts.append((v.version, sig))
    if not starts:
        return Runs(None, ())
    last_start, last_sig = starts[-1]
    current = last_start if last_sig is not None else None
    stale = tuple(first for first, sig in starts if sig is not None and first != current)
    return Runs(current, stale)


def run_prefix(kind: str, resource_id: str, run: int) -> str:
    """The key prefix of one run's messages: ``appointment:{id}:v{run}:``."""
    return f"{kind}:{resource_id}:v{run}:"
