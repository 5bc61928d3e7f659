"""What the console benchmarks share: signing in through the form, timing page loads."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import httpx

from benchmarks._support import percentile


def sign_in(client: httpx.Client, token: str) -> None:
    """As an operator does: the form's CSRF token, then the token pasted into it."""
    form = client.get("/console/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    answer = client.post("/console/sign-in", data={"csrf_token": csrf.group(1),
                                                   "token": token, "next": "/console/"})
    if answer.status_code != 303:
        raise RuntimeError(f"console sign-in failed: {answer.status_code} {answer.text[:300]}")


def measure(client: httpx.Client, paths: Sequence[str]) -> dict[str, Any]:
    """One GET per path, in order, each timed; any answer but 200 ends the run."""
    times = []
    size = 0
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
        size = len(answer.content)
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "p99": percentile(times, 99), "bytes": size}
