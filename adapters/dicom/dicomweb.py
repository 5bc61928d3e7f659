"""The PACS over DICOMweb.

QIDO-RS, instance metadata and STOW-RS go through dicomweb-client (synchronous, on
``requests``): each call runs in a worker thread, after the PACS root passed the outbound
policy, without retries (the outbox retries writes; an access call fails fast), without
redirects and with a timeout. The viewer's WADO-RS / WADO-URI requests are streamed through
the shared allow-listed httpx client chunk by chunk; only DICOM JSON answers (metadata,
QIDO) are read whole, to replace the PACS's own URLs in them (RetrieveURL, BulkDataURI) with
the gateway's, so the PACS is never shown to a viewer.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import httpx
import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

from adapters.dicom.dicom_json import SERIES_FIELDS, STUDY_FIELDS, study_summary
from adapters.http.outbound import OutboundPolicy, OutboundRefused
from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.model import StudySummary
from resolvers.imaging.ports import PacsRequest

T = TypeVar("T")
MAX_JSON_BYTES = 64 * 1024 * 1024  # one study's DICOM JSON metadata; pixel data is streamed
CHUNK = 64 * 1024


class StreamedAnswer:
    def __init__(self, status: int, content_type: str | None,
                 chunks: Callable[[], AsyncIterator[bytes]]) -> None:
        self.status = status
        self.content_type = content_type
        self._chunks = chunks

    def chunks(self) -> AsyncIterator[bytes]:
        return self._chunks()


class DicomwebPacs:
    def __init__(self, base_url: str, http: httpx.AsyncClient, policy: OutboundPolicy, *,
                 wado_uri_url: str = "", username: str = "", password: str = "",
                 timeout_seconds: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._wado_uri = wado_uri_url
        self._http = http
        self._policy = policy
        self._auth = httpx.BasicAuth(username, password) if username else None
        self._timeout = timeout_seconds
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc from the environment
        session.max_redirects = 0  # a redirect could point anywhere
        if username:
            session.auth = (username, password)
        self._client = DICOMwebClient(self._base, session=session, timeout=timeout_seconds)
        self._client.set_http_retry_params(retry=False)

    async def _call(self, call: Callable[[], T]) -> T:
        try:
            await self._policy.check(self._base)
            return await anyio.to_thread.run_sync(call)
        except OutboundRefused as exc:
            raise PacsUnavailable(f"the PACS may not be reached: {exc}") from None
        except requests.Timeout:
            raise PacsUnavailable(f"the PACS did not answer within {self._timeout:g} s") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise PacsUnavailable(f"the PACS answered HTTP {status}") from None
        except (requests.RequestException, OSError):
            raise PacsUnavailable("the PACS cannot be reached") from None

    async def find_study(self, study_uid: str) -> StudySummary | None:
        studies = await self._call(partial(
            self._client.search_for_studies, search_filters={"StudyInstanceUID": study_uid},
            fields=list(STUDY_FIELDS)))
        if not studies:
            return None
        series = await self._call(partial(self._client.search_for_series,
                                          study_instance_uid=study_uid,
                                          fields=list(SERIES_FIELDS)))
        return study_summary(study_uid, studies[0], series)

    async def instance_metadata(self, study_uid: str, series_uid: str,
                                instance_uid: str) -> dict[str, Any] | None:
        def metadata() -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = self._client.retrieve_instance_metadata(
                    study_uid, series_uid, instance_uid)
                return found
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code == 404:
                    return None
                raise
        return await self._call(metadata)

    async def store(self, datasets: Sequence[bytes]) -> None:
        parsed = [pydicom.dcmread(io.BytesIO(d)) for d in datasets]
        await self._call(partial(self._client.store_instances, datasets=parsed))

    @asynccontextmanager
    async def fetch(self, request: PacsRequest) -> AsyncIterator[StreamedAnswer]:
        if request.wado_uri and not self._wado_uri:
            raise PacsUnavailable("no WADO-URI endpoint is configured (CARI_PACS_WADO_URI_URL)")
        url = self._wado_uri if request.wado_uri else f"{self._base}/{request.path}"
        if request.query:  # "/" kept as is: PACSes (Orthanc) read contentType=image/jpeg raw
            url = f"{url}?{urlencode(list(request.query), safe='/:,')}"
        headers = {"Accept-Encoding": "identity"}
        if request.accept:
            headers["Accept"] = request.accept
        try:
            async with self._http.stream("GET", url, headers=headers,
                                         auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                                         timeout=self._timeout) as response:
                if response.status_code >= 500:
                    raise PacsUnavailable(f"the PACS answered HTTP {response.status_code}")
                content_type = response.headers.get("content-type")
                if content_type and "json" in content_type and request.public_root:
                    body = await self._json_body(response, request.public_root)
                    yield StreamedAnswer(response.status_code, content_type,
                                         partial(_once, body))
                else:
                    yield StreamedAnswer(response.status_code, content_type,
                                         partial(response.aiter_raw, CHUNK))
        except OutboundRefused as exc:
            raise PacsUnavailable(f"the PACS may not be reached: {exc}") from None
        except httpx.TimeoutException:
            raise PacsUnavailable(f"the PACS did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError:
            raise PacsUnavailable("the PACS cannot be reached") from None

    async def _json_body(self, response: httpx.Response, rewrite_to: str) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw(CHUNK):
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                raise PacsUnavailable("the PACS's DICOM JSON answer is too large to pass on")
            parts.append(chunk)
        return b"".join(parts).replace(self._base.encode(), rewrite_to.encode())


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
