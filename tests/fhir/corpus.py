"""The official FHIR R4 examples (npm package ``hl7.fhir.r4.examples`` 4.0.1), fetched once
into a cache directory outside the repository and reused afterwards.

Cache: ``$CARI_CACHE_DIR/fhir-r4-examples`` (default ``~/.cache/cari/fhir-r4-examples``),
holding ``4.0.1/package/*.json`` once extracted. Nothing here is ever written inside git.
Fetching needs ``npm`` and the registry once; afterwards the cache is used as it is. To run
offline, extract the package tarball into that directory by hand.

Standard library only: the benchmark uses it too, without pytest.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PACKAGE = "hl7.fhir.r4.examples"
VERSION = "4.0.1"
# The types the gateway validates (resolvers/fhir/issues.py), in a stable order.
TYPES = (
    "Patient", "Encounter", "Observation", "MedicationRequest", "Condition",
    "AllergyIntolerance", "Practitioner", "Organization", "Procedure", "Immunization",
    "DiagnosticReport", "Bundle", "OperationOutcome", "AuditEvent",
)


class CorpusUnavailable(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("CARI_CACHE_DIR")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "cari"
    return root / "fhir-r4-examples"


def examples_dir() -> Path:
    """The extracted ``package/`` directory, fetching and extracting it on first use."""
    target = cache_root() / VERSION
    package = target / "package"
    marker = target / ".complete"
    if marker.exists():
        return package
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching it right now
        if not marker.exists():
            _fetch_into(target)
    return package


def _fetch_into(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise CorpusUnavailable(f"npm is needed once to fetch {PACKAGE}@{VERSION} into "
                                f"{target} (or extract its tarball there by hand)")
    with tempfile.TemporaryDirectory(prefix="cari-fhir-examples-",
                                     dir=target.parent) as scratch_name:
        scratch = Path(scratch_name)
        out = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--json", "--silent"],
                             cwd=scratch, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise CorpusUnavailable(f"npm pack {PACKAGE}@{VERSION} failed ({out.returncode}): "
                                    f"{out.stderr.strip()[-1500:]}")
        tarballs = list(scratch.glob("*.tgz"))
        if len(tarballs) != 1:
            raise CorpusUnavailable(f"npm pack left {len(tarballs)} tarballs in {scratch}")
        extracted = scratch / "x"
        extracted.mkdir()
        with tarfile.open(tarballs[0], "r:gz") as tar:
            tar.extractall(extracted, filter="data")
        manifest = json.loads((extracted / "package" / "package.json").read_text())
        if manifest.get("name") != PACKAGE or manifest.get("version") != VERSION:
            raise CorpusUnavailable(f"unexpected package manifest: {manifest}")
        if target.exists():
            shutil.rmtree(target)
        extracted.rename(target)
        (target / ".complete").write_text(json.dumps(
            {"package": PACKAGE, "version": VERSION, "npm": out.stdout.strip()[:4000]}))


def example_files(directory: Path, resource_type: str) -> list[Path]:
    """The official examples of one type (the package names them ``<Type>-<id>.json``)."""
    return sorted(directory.glob(f"{resource_type}-*.json"))


def load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not path.name.startswith(f"{doc.get('resourceType')}-"):
        raise CorpusUnavailable(f"{path.name} does not hold the resource its name announces")
    return doc


def iter_examples(directory: Path, types: tuple[str, ...] = TYPES,
                  max_bytes: int | None = None) -> Iterator[tuple[str, Path]]:
    """(resource type, file) of every official example of ``types``, optionally only the
    files up to ``max_bytes`` (the package holds a few Bundles of tens of MB)."""
    for resource_type in types:
        for path in example_files(directory, resource_type):
            if max_bytes is None or path.stat().st_size <= max_bytes:
                yield resource_type, path
