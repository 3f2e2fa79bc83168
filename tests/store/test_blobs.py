"""Uploaded files, content-addressed."""

from __future__ import annotations

import hashlib

from service.store import BlobStore


def test_blobs_are_content_addressed(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"abc")
    assert sha == hashlib.sha256(b"abc").hexdigest()
    assert blobs.path(sha) == tmp_path / "blobs" / sha[:2] / sha
    assert blobs.path(sha).read_bytes() == b"abc" and blobs.put(b"abc") == sha
    assert not list(blobs.root.rglob(".part-*"))  # written to a temporary file and renamed
