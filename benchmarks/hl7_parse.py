"""hl7_parse: ORU^R01 parsing throughput, the gateway's hand-written parser vs hl7apy, in process.

Two messages: the standards digest's worked example (1 PID, 1 OBR, 2 OBX -- one NM, one SN
-- and one NTE with escapes) and a 10-OBX chemistry panel
with repetitions, escapes and notes. Loops, interleaved pass by pass so drift hits all alike:

* ``parse_oru``     ``adapters.hl7v2.parser.parse_oru`` -> ``OruMessage`` (the hot path);
* ``parse+ack``     ``parse_oru`` then ``build_ack`` (what ingest does besides storage);
* ``hl7apy``        ``hl7apy.parser.parse_message(find_groups=True)`` -- hl7apy's full parse
                    (it still leaves the mapping to the model to do);
* ``hl7apy_flat``   the same with ``find_groups=False`` (no group tree; cheapest hl7apy);
* ``validate``      ``validate_structure`` (hl7apy parse + validator + the order check).

Plus ``mllp``: messages/s through a real ``MllpServer`` on 127.0.0.1 with a parse+ACK
handler (no storage), 4 connections each sending one message at a time and waiting for its
ACK. Reported: messages/s (median pass) and microseconds per message. A measurement, not a test.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks._support import Options, write_result

NAME = "hl7_parse"

WORKED_EXAMPLE = "\r".join([
    r"MSH|^~\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||ORU^R01^ORU_R01"
    r"|LAB000123|P|2.5|||AL|NE",
    r"PID|1||MRN4455^^^DISTRICT_HOSP&2.16.840.1.113883.19.5&ISO^MR~NID9988^^^NATID&"
    r"1.3.6.1.4.1.9999.1&ISO^NI||ODHIAMBO^GRACE^A^^^^L||19850412|F",
    r"PV1|1|O|OPD^^^DISTRICT_HOSP",
    r"ORC|RE|PLC881^GATEWAY|FIL552^LABSYS",
    r"OBR|1|PLC881^GATEWAY|FIL552^LABSYS|24323-8^Comprehensive metabolic panel^LN|||"
    r"20260115071500|||||||||||||||20260115082500|||F",
    r"OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|||"
    r"20260115071500",
    r"NTE|1|L|Not hemolysed\.br\Ward called 08:27; ref A\T\E",
    r"OBX|2|SN|33762-6^NT-proBNP SerPl-mCnc^LN||>^900|pg/mL^pg/mL^UCUM|<125|H|||F|||"
    r"20260115071500",
])

_PANEL = [("2951-2", "Sodium", "NM", "139", "mmol/L", "136-145", "N"),
          ("2823-3", "Potassium", "NM", "6.9", "mmol/L", "3.5-5.1", "HH"),
          ("2075-0", "Chloride", "NM", "101", "mmol/L", "98-107", "N"),
          ("2028-9", "CO2", "NM", "24", "mmol/L", "22-29", "N"),
          ("3094-0", "Urea nitrogen", "NM", "18", "mg/dL", "7-20", "N"),
          ("2160-0", "Creatinine", "NM", "1.4", "mg/dL", "0.6-1.2", "H"),
          ("2345-7", "Glucose", "NM", "5.4", "mmol/L", "3.9-5.5", "N"),
          ("33762-6", "NT-proBNP", "SN", ">^900", "pg/mL", "<125", "H"),
          ("600-7", "Culture", "CE", "112283007^Escherichia coli^SCT", "", "", "A"),
          ("8251-1", "Comment", "TX", r"See note\.br\Sample \T\ repeat", "", "", "")]
TEN_OBX = "\r".join([
    WORKED_EXAMPLE.split("\r")[0].replace("LAB000123", "LAB000124"),
    *WORKED_EXAMPLE.split("\r")[1:5],
    *(f"OBX|{i}|{vt}|{code}^{text}^LN||{value}|{unit}^{unit}^UCUM|{rng}|{flag}|||F|||"
      f"20260115071500" + (f"\rNTE|1|L|Checked \\E\\ repeated~line {i}" if i % 3 == 0 else "")
      for i, (code, text, vt, value, unit, rng, flag) in enumerate(_PANEL, start=1)),
])


def _timed(loop: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    loop()
    return time.perf_counter() - started


def _loops(raw: str, n_fast: int, n_slow: int) -> dict[str, tuple[int, Callable[[], None]]]:
    from hl7apy.parser import parse_message

    from adapters.hl7v2.ack import build_ack
    from adapters.hl7v2.parser import parse_oru
    from adapters.hl7v2.validation import validate_structure

    def fast() -> None:
        for _ in range(n_fast):
            parse_oru(raw)

    def fast_ack() -> None:
        for _ in range(n_fast):
            m = parse_oru(raw)
            build_ack(m.header, raw, "CA")

    def hl7apy_full() -> None:
        for _ in range(n_slow):
            parse_message(raw, find_groups=True)

    def hl7apy_flat() -> None:
        for _ in range(n_slow):
            parse_message(raw, find_groups=False)

    def validate() -> None:
        for _ in range(max(1, n_slow // 2)):
            validate_structure(raw)

    return {"parse_oru": (n_fast, fast), "parse+ack": (n_fast, fast_ack),
            "hl7apy": (n_slow, hl7apy_full), "hl7apy_flat": (n_slow, hl7apy_flat),
            "validate": (max(1, n_slow // 2), validate)}


async def _mllp(raw: str, connections: int, per_connection: int) -> float:
    from adapters.hl7v2.ack import build_ack
    from adapters.hl7v2.mllp import MllpServer, frame, read_frames
    from adapters.hl7v2.parser import parse_oru

    async def handler(data: bytes) -> bytes:
        m = parse_oru(data)
        return build_ack(m.header, data, "CA").encode()

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        framed = frame(raw)
        for _ in range(per_connection):
            writer.write(framed)
            await read_frames(reader, 1)
        writer.close()

    async with MllpServer(handler, "127.0.0.1", 0) as server:
        await asyncio.gather(*(client(server.bound_port) for _ in range(connections)))  # warm
        started = time.perf_counter()
        await asyncio.gather(*(client(server.bound_port) for _ in range(connections)))
        return connections * per_connection / (time.perf_counter() - started)


def run(options: Options) -> dict[str, Any]:
    passes = max(3, options.runs)
    from benchmarks.scenarios import _hl7_message

    # The digest's examples, and the exact messages http_throughput ingests (1 and 10 OBX),
    # so the bare parse rate stands next to the ingest rate of the same messages.
    messages = {"worked_example": WORKED_EXAMPLE, "10_obx_panel": TEN_OBX,
                "ingest_1obx": _hl7_message(1).replace("MSGIDTOKEN", "B1"),
                "ingest_10obx": _hl7_message(10).replace("MSGIDTOKEN", "B10")}
    result: dict[str, Any] = {"params": {"passes": passes}, "messages": {}}
    print(f"[{NAME}] {passes} interleaved passes per loop; parse_oru vs hl7apy, in process")
    for label, raw in messages.items():
        loops = _loops(raw, n_fast=2000, n_slow=30)
        for _count, loop in loops.values():  # warm-up: imports, hl7apy reference caches
            loop()
        seconds: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(passes):
            for name, (_count, loop) in loops.items():
                seconds[name].append(_timed(loop))
        per_s = {name: loops[name][0] / statistics.median(s) for name, s in seconds.items()}
        mllp = asyncio.run(_mllp(raw, connections=4, per_connection=500))
        figures: dict[str, Any] = {
            "bytes": len(raw.encode()), "segments": raw.count("\r") + 1,
            "obx": raw.count("\rOBX|"),
            "messages_per_s": {**per_s, "mllp_loopback": mllp},
            "us_per_message": {name: 1e6 / rate for name, rate in per_s.items()},
            "speedup_vs_hl7apy": per_s["parse_oru"] / per_s["hl7apy"],
        }
        result["messages"][label] = figures
        us = figures["us_per_message"]
        print(f"[{NAME}] {label} ({figures['obx']} OBX, {figures['bytes']} bytes): "
              f"parse_oru {per_s['parse_oru']:,.0f}/s ({us['parse_oru']:.1f} us), "
              f"parse+ack {per_s['parse+ack']:,.0f}/s, hl7apy {per_s['hl7apy']:,.0f}/s "
              f"({us['hl7apy'] / 1000:.1f} ms; flat {us['hl7apy_flat'] / 1000:.1f} ms), "
              f"validate_structure {us['validate'] / 1000:.1f} ms -> "
              f"{figures['speedup_vs_hl7apy']:.0f}x; MLLP loopback {mllp:,.0f} msg/s")
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for label, figures in result["messages"].items():
        rate = figures["messages_per_s"]
        out.append([NAME, label,
                    f"parse_oru {rate['parse_oru']:,.0f}/s vs hl7apy {rate['hl7apy']:,.0f}/s "
                    f"({figures['speedup_vs_hl7apy']:.0f}x); MLLP {rate['mllp_loopback']:,.0f}/s"])
    return out


if __name__ == "__main__":
    run(Options())
