"""CSMS_STORAGE picks the file storage backend."""

from __future__ import annotations

import pytest

from csms import settings as csms_settings


def test_storage_backends_by_name():
    assert csms_settings.file_storage("local")["BACKEND"].endswith("FileSystemStorage")
    assert csms_settings.file_storage("s3")["BACKEND"] == "storages.backends.s3.S3Storage"
    gcs = csms_settings.file_storage("gcs")
    assert gcs["BACKEND"] == "storages.backends.gcloud.GoogleCloudStorage"


def test_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="CSMS_STORAGE"):
        csms_settings.file_storage("ftp")
