"""Small DICOM instances built with pydicom: a CT and an MR series of one study."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
DOCUMENTED_STUDY = "1.2.840.113619.2.55.3.604688119"  # product-docs.md's example


@dataclass(frozen=True)
class Instance:
    series_uid: str
    instance_uid: str
    modality: str
    data: bytes  # a Part 10 file


@dataclass(frozen=True)
class Study:
    study_uid: str
    patient_id: str
    instances: tuple[Instance, ...]

    def series(self, modality: str) -> list[Instance]:
        return [i for i in self.instances if i.modality == modality]


def _instance(study_uid: str, series_uid: str, patient_id: str, modality: str,
              number: int, series_number: int, issuer: str | None) -> Instance:
    sop_class = CT_IMAGE if modality == "CT" else MR_IMAGE
    instance_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, instance_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.PatientName = patient_id, "Test^Patient"
    if issuer:
        ds.IssuerOfPatientID = issuer
    ds.PatientBirthDate, ds.PatientSex = "19850412", "F"
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20261201", "101500", "1"
    ds.AccessionNumber, ds.StudyDescription = "ACC-1", "Chest"
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, series_number, number
    ds.SeriesDescription = f"{modality} series"
    ds.Manufacturer = "pydicom"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PositionReferenceIndicator = ""
    ds.FrameOfReferenceUID = generate_uid()
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, number], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 1.0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(256, dtype=np.uint16).reshape(16, 16) * number).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return Instance(series_uid, instance_uid, modality, out.getvalue())


def make_study(patient_id: str, study_uid: str | None = None, *, ct: int = 3, mr: int = 2,
               issuer: str | None = None) -> Study:
    """A study with a CT series of ``ct`` instances and an MR series of ``mr``."""
    study_uid = study_uid or generate_uid()
    ct_series, mr_series = generate_uid(), generate_uid()
    instances = [_instance(study_uid, ct_series, patient_id, "CT", n, 1, issuer)
                 for n in range(1, ct + 1)]
    instances += [_instance(study_uid, mr_series, patient_id, "MR", n, 2, issuer)
                  for n in range(1, mr + 1)]
    return Study(study_uid, patient_id, tuple(instances))
