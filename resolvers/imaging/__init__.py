"""DICOM imaging: study access with signed viewer URLs, the viewer's DICOMweb proxy and
versioned annotations (issue 15)."""
