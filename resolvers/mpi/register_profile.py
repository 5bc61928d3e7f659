"""RegisterProfiling: which kind of register the matcher believes it reads, and keeping that
belief current as the register grows (see resolvers/mpi/scoring/profile.py for why)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from resolvers.mpi.ports import ProfiledMatcher
from resolvers.mpi.scoring.profile import RegisterKind, RegisterProfile, parameters_name
from resolvers.principal import Caller, Role, require_role

log = logging.getLogger("cari.mpi")


class RegisterProfiling:
    def __init__(self, matcher: ProfiledMatcher) -> None:
        self._matcher = matcher

    def _view(self, profile: RegisterProfile | None) -> dict[str, Any]:
        kind = profile.kind if profile else RegisterKind.UNKNOWN
        operator = self._matcher.uses_operator_parameters
        return {
            "profile": profile.to_dict() if profile else None,
            "kind": kind.value,
            "parameters": "stored by an operator" if operator else parameters_name(kind),
            "operator_parameters": operator,
        }

    def current(self, caller: Caller) -> dict[str, Any]:
        require_role(caller, Role.ADMIN)
        return self._view(self._matcher.profile)

    async def refresh(self, caller: Caller) -> dict[str, Any]:
        """Profile the register now (an operator after a bulk import)."""
        require_role(caller, Role.ADMIN)
        return self._view(await self._refresh(self._matcher.refresh_profile()))

    async def _refresh(self, step: Awaitable[RegisterProfile | None]) -> RegisterProfile | None:
        before = self._matcher.profile
        profile: RegisterProfile | None = await step
        if profile is not None and (before is None or before.kind is not profile.kind):
            # Counts and shares only: no patient data.
            log.info("MPI register profile", extra={
                "kind": profile.kind.value, "household_share": round(profile.household_share, 4),
                "sampled": profile.sampled, "register_size": profile.register_size})
        return profile

    async def run(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """The background check of a gateway process: re-profile when the register grew."""
        while not stop.is_set():
            try:
                await self._refresh(self._matcher.refresh_profile_if_stale())
            except Exception as exc:  # a database hiccup must not end the loop
                log.error("MPI register profiling failed", exc_info=exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
