"""The examples cache: fetched once with ``npm pack``, extracted once, reused afterwards."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.fhir import corpus


def _fake_npm(calls: list[list[str]]) -> Any:
    def run(cmd: list[str], *, cwd: Path, **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        files = {"package/package.json": {"name": corpus.PACKAGE, "version": corpus.VERSION},
                 "package/Patient-x.json": {"resourceType": "Patient", "id": "x"}}
        with tarfile.open(Path(cwd) / "hl7.fhir.r4.examples-4.0.1.tgz", "w:gz") as tar:
            for name, doc in files.items():
                data = json.dumps(doc).encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return subprocess.CompletedProcess(cmd, 0, stdout="[]", stderr="")
    return run


def test_fetched_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARI_CACHE_DIR", str(tmp_path))
    calls: list[list[str]] = []
    monkeypatch.setattr("tests.fhir.corpus.shutil.which", lambda _name: "/usr/bin/npm")
    monkeypatch.setattr("tests.fhir.corpus.subprocess.run", _fake_npm(calls))
    first = corpus.examples_dir()
    assert first == tmp_path / "fhir-r4-examples" / "4.0.1" / "package"
    assert calls == [["/usr/bin/npm", "pack", "hl7.fhir.r4.examples@4.0.1", "--json", "--silent"]]
    assert corpus.load(first / "Patient-x.json")["id"] == "x"
    assert corpus.examples_dir() == first
    assert len(calls) == 1  # the cache is reused
    assert not any(p.suffix == ".tgz" for p in tmp_path.rglob("*"))  # the tarball is gone


def test_without_npm_the_error_says_what_to_do(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("tests.fhir.corpus.shutil.which", lambda _name: None)
    with pytest.raises(corpus.CorpusUnavailable, match="npm is needed once"):
        corpus.examples_dir()


def test_the_default_cache_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARI_CACHE_DIR", raising=False)
    root = corpus.cache_root()
    assert root == Path.home() / ".cache" / "cari" / "fhir-r4-examples"
    repository = Path(__file__).resolve().parents[2]
    assert repository not in root.parents
