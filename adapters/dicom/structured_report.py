"""Annotation versions as a DICOM Comprehensive 3D SR with a TID 1500 Measurement Report,
built by highdicom.

Each annotation version is one TID 1410 planar ROI group: its region (a POLYLINE in image
coordinates; a measurement's two ends, a region's closed outline, a text note's POINT), a
tracking identifier ``<annotation id> v<version>``, the measurement (coded with the label in
the local scheme 99CARI, the unit in UCUM) and, for text, the note in the tracking
identifier's text. The evidence is the referenced instances' metadata, so the SR joins their
study and patient in the PACS.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.sr.codedict import codes

from resolvers.imaging.model import AnnotationKind, AnnotationVersion

LOCAL_SCHEME = "99CARI"
BULK_VRS = ("OB", "OW", "OF", "OD", "OL", "OV", "UN")


def uid_from(key: str, part: str) -> str:
    """A DICOM UID (2.25 + a UUID's integer) that ``key`` and ``part`` always give again."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'cari:{key}:{part}').int}"


def _evidence(metadata: dict[str, Any]) -> Dataset:
    """DICOM JSON without its bulk data (pixel data is not needed to reference an image)."""
    kept = {tag: element for tag, element in metadata.items()
            if element.get("vr") not in BULK_VRS and "BulkDataURI" not in element}
    return Dataset.from_json(kept)


def _region(version: AnnotationVersion, source: Dataset) -> hd.sr.ImageRegion:
    points = np.array(version.coordinates, dtype=float).reshape(-1, 2)
    if version.kind is AnnotationKind.REGION and not np.array_equal(points[0], points[-1]):
        points = np.vstack([points, points[:1]])  # a region's outline is closed
    graphic = hd.sr.GraphicTypeValues.POINT if len(points) == 1 else \
        hd.sr.GraphicTypeValues.POLYLINE
    frames = [version.frame] if int(getattr(source, "NumberOfFrames", 1) or 1) > 1 else None
    return hd.sr.ImageRegion(graphic_type=graphic, graphic_data=points,
                             source_image=hd.sr.SourceImageForRegion(
                                 source.SOPClassUID, source.SOPInstanceUID, frames))


def _group(version: AnnotationVersion, source: Dataset
           ) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    name = f"{version.annotation_id} v{version.version}"
    if version.text:
        name = f"{name}: {version.text}"
    measurements = []
    if version.kind is AnnotationKind.MEASUREMENT and version.value is not None:
        measurements.append(hd.sr.Measurement(
            name=hd.sr.CodedConcept(version.kind.value, LOCAL_SCHEME,
                                    (version.label or "Measurement")[:64]),
            value=version.value,
            unit=hd.sr.CodedConcept(version.unit or "1", "UCUM", version.unit or "1")))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uid_from(version.annotation_id, str(version.version)), identifier=name[:1024]),
        referenced_region=_region(version, source), measurements=measurements or None)


def _person(subject: str) -> str:
    """A token subject as a DICOM person name: one component, the caret says so."""
    return subject.replace("^", " ").replace("\\", " ")[:63] + "^"


class HighdicomReports:
    def build(self, versions: Sequence[AnnotationVersion],
              sources: Mapping[str, dict[str, Any]], key: str) -> bytes:
        evidence = {uid: _evidence(m) for uid, m in sources.items()}
        authors = sorted({v.author for v in versions})
        context = hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=_person(authors[0]) if len(authors) == 1 else "Several^Observers")))
        report = hd.sr.MeasurementReport(
            observation_context=context,
            procedure_reported=hd.sr.CodedConcept("annotation", LOCAL_SCHEME, "Image annotation"),
            imaging_measurements=[_group(v, evidence[v.instance_uid]) for v in versions])
        sr = hd.sr.Comprehensive3DSR(
            evidence=list(evidence.values()), content=report,
            series_instance_uid=uid_from(key, "series"), series_number=990,
            sop_instance_uid=uid_from(key, "instance"), instance_number=1,
            manufacturer="Cari integration gateway", is_complete=True)
        out = io.BytesIO()
        sr.save_as(out, enforce_file_format=True)
        return out.getvalue()
