"""The PACS over DICOMweb (dicomweb-client for QIDO-RS, STOW-RS and metadata; the shared
allow-listed httpx client for the viewer's streamed WADO), its in-memory twin, viewer
tokens and DICOM SR building (highdicom)."""
