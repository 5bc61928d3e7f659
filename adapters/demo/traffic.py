"""``cari-gateway demo-traffic``: realistic traffic sent to a RUNNING gateway through its real
routes, so the console (and every report) has something to show.

What it sends (with the default counts):
- 20 patients registered over REST (``POST /api/patients``, role clinician);
- 300 ORU^R01 messages over ``POST /api/lab/hl7-ingest`` (role lab): six in ten for a
  registered patient (matched by identifier), two in ten with an unknown identifier and the
  demographics of a registered patient (one of them misspelt): for review, or a provisional
  patient when the match is weak; one in ten for someone new, one in ten with a critical potassium (a lab
  alert); every 25th message is sent again under its control id with another value (refused,
  409, kept for an operator); a share over MLLP when ``--mllp host:port`` is given;
- 30 Stripe events signed with the endpoint secret (``--stripe-secret``, default the first
  of ``CARI_STRIPE_WEBHOOK_SECRETS``, which ``make run``'s ./var/demo.env provides; skipped
  when there is none);
- 20 M-Pesa collections over ``POST /api/payments`` (role billing), each with an
  Idempotency-Key; under ``make run`` the local Daraja sandbox (mpesa_sandbox.py) accepts
  them and settles them by callback (every 5th cancelled by the "customer"); without a
  configured provider the gateway refuses them, and the summary says so.

The answers are counted by kind and HTTP status and printed as one JSON summary. Every name,
number and phone in it is invented.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.hl7v2.mllp import send_mllp

FAMILIES = ["Odhiambo", "Mwangi", "Achieng", "Kamau", "Wanjiru", "Otieno", "Njoroge", "Mensah",
            "Diallo", "Traore", "Nkosi", "Banda", "Phiri", "Okafor", "Mutua", "Kariuki"]
GIVEN = ["Grace", "Peter", "Amina", "John", "Fatou", "Samuel", "Esther", "Joseph", "Aisha",
         "David", "Mercy", "Brian", "Zawadi", "Kofi", "Halima", "Daniel"]
LAB = "DEMO_LAB"
NEW_LAB = "CITY_LAB"
SYSTEM = f"urn:cari:lab:{LAB}:patient-id"  # PID-3 without an authority: the sender's system


@dataclass(frozen=True)
class DemoPerson:
    mrn: str
    family: str
    given: str
    birth: str  # YYYYMMDD
    gender: str  # F | M


@dataclass(frozen=True)
class DemoOptions:
    base_url: str
    tokens: dict[str, str]  # role -> bearer token
    messages: int = 300
    patients: int = 20
    webhooks: int = 30
    payments: int = 20
    stripe_secret: str = ""
    mllp: tuple[str, int] | None = None
    concurrency: int = 8
    seed: int = 17


def people(n: int, rng: random.Random) -> list[DemoPerson]:
    return [DemoPerson(f"DEMO-{i:04d}", rng.choice(FAMILIES), rng.choice(GIVEN),
                       f"19{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                       rng.choice("FM")) for i in range(1, n + 1)]


def oru(control_id: str, facility: str, pid3: str, person: DemoPerson, *, potassium: float,
        family: str | None = None) -> str:
    flag = "HH" if potassium >= 6.5 else ("H" if potassium > 5.1 else "N")
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return "\r".join([
        f"MSH|^~\\&|LIS|{facility}|CARI|CARI|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.5",
        f"PID|1||{pid3}||{(family or person.family).upper()}^{person.given.upper()}||"
        f"{person.birth}|{person.gender}",
        f"OBR|1||ORD-{control_id}|24323-8^Metabolic panel^LN|||{stamp}",
        f"OBX|1|NM|2823-3^Potassium^LN||{potassium:.1f}|mmol/L|3.5-5.1|{flag}|||F",
        f"OBX|2|NM|2951-2^Sodium^LN||{137 + int(potassium * 10) % 7}|mmol/L|135-145|N|||F",
    ])


def misspelt(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


def stripe_signature(secret: str, payload: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


class DemoTraffic:
    def __init__(self, options: DemoOptions, client: httpx.AsyncClient) -> None:
        self._o = options
        self._client = client
        self._rng = random.Random(options.seed)
        self._run = uuid.uuid4().hex[:6].upper()  # control ids differ between runs
        self.counts: Counter[str] = Counter()
        self._gate = asyncio.Semaphore(options.concurrency)

    def _auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._o.tokens[role]}"}

    async def _post(self, kind: str, path: str, **kw: Any) -> httpx.Response | None:
        async with self._gate:
            try:
                answer = await self._client.post(path, **kw)
            except httpx.HTTPError as exc:
                self.counts[f"{kind} {type(exc).__name__}"] += 1
                return None
        self.counts[f"{kind} {answer.status_code}"] += 1
        return answer

    async def run(self) -> dict[str, int]:
        registered = people(self._o.patients, self._rng)
        await _all([self._post("patient", "/api/patients", headers=self._auth("clinician"),
                               json={"identifiers": [{"system": SYSTEM, "value": p.mrn}],
                                     "family": p.family, "given": [p.given],
                                     "birth_date": f"{p.birth[:4]}-{p.birth[4:6]}-{p.birth[6:]}",
                                     "gender": "female" if p.gender == "F" else "male"})
                    for p in registered])
        await _all([self._message(i, registered) for i in range(self._o.messages)])
        await _all([self._stripe(i) for i in range(self._o.webhooks)])
        await _all([self._payment(i) for i in range(self._o.payments)])
        return dict(sorted(self.counts.items()))

    async def _message(self, i: int, registered: list[DemoPerson]) -> None:
        rng = self._rng
        person = rng.choice(registered)
        control = f"DEMO{self._run}{i:05d}"
        kind = i % 10
        potassium = round(rng.uniform(3.6, 5.0), 1)
        if kind in (6, 7):  # unknown identifier, a registered patient's name (7: misspelt)
            text = oru(control, LAB, f"X-{self._run}-{i}", person, potassium=potassium,
                       family=misspelt(person.family, rng) if kind == 7 else None)
        elif kind == 8:  # someone the register does not know
            stranger = people(1, rng)[0]
            text = oru(control, NEW_LAB, f"NEW-{self._run}-{i}", stranger, potassium=potassium)
        else:
            text = oru(control, LAB, person.mrn, person,
                       potassium=7.1 if kind == 9 else potassium)
        if self._o.mllp is not None and i % 5 == 4:
            host, port = self._o.mllp
            async with self._gate:
                try:
                    await send_mllp(host, port, text, expected=1)
                    self.counts["hl7 mllp ack"] += 1
                except (OSError, TimeoutError) as exc:
                    self.counts[f"hl7 mllp {type(exc).__name__}"] += 1
        else:
            await self._post("hl7", "/api/lab/hl7-ingest", content=text.encode(),
                             headers={**self._auth("lab"), "Content-Type": "text/plain"})
        if i % 25 == 24:  # the same control id again, another value: refused and kept
            again = text.replace("^Potassium^LN||", "^Potassium^LN||9")
            await self._post("hl7 reused-control-id", "/api/lab/hl7-ingest",
                             content=again.encode(),
                             headers={**self._auth("lab"), "Content-Type": "text/plain"})

    async def _stripe(self, i: int) -> None:
        if not self._o.stripe_secret:
            self.counts["stripe skipped (no secret)"] += 1
            return
        event = {"id": f"evt_demo_{self._run}_{i}", "object": "event", "api_version": "2024-06-20",
                 "created": int(time.time()), "livemode": False,
                 "type": "payment_intent.succeeded" if i % 6 else "payment_intent.payment_failed",
                 "data": {"object": {"id": f"pi_demo_{self._run}_{i}", "object": "payment_intent",
                                     "amount": 1500 + 100 * i, "currency": "usd",
                                     "metadata": {"demo": "true"}}}}
        body = json.dumps(event).encode()
        await self._post("stripe", "/api/webhooks/stripe", content=body, headers={
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(self._o.stripe_secret, body, int(time.time()))})

    async def _payment(self, i: int) -> None:
        await self._post("payment", "/api/payments", headers={
            **self._auth("billing"), "Idempotency-Key": f"demo-{self._run}-{i}"}, json={
            "provider": "mpesa", "amount": 100 * (5 + i), "currency": "KES",
            "phone": f"+2547{self._rng.randint(10_000_000, 99_999_999)}",
            "reference": f"DEMO-{self._run}-{i}", "description": "Demo consultation fee"})


async def _all(jobs: list[Awaitable[Any]]) -> None:
    await asyncio.gather(*jobs)


async def send_demo_traffic(options: DemoOptions,
                            client_factory: Callable[[], httpx.AsyncClient] | None = None,
                            ) -> dict[str, int]:
    """Send it all; the counts of answers by kind and status."""
    client = (client_factory() if client_factory else
              httpx.AsyncClient(base_url=options.base_url, timeout=30.0))
    async with client:
        return await DemoTraffic(options, client).run()
