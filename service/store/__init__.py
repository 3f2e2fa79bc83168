"""The store: SQLAlchemy tables (orm), engine and migrations (db), uploaded files (blobs), operations (crud)."""

from service.store.blobs import (
    BlobError,
    BlobMissing,
    Blobs,
    BlobStoreUnreachable,
    LocalBlobs,
    S3Blobs,
    S3Settings,
    blob_env,
    open_blobs,
)
from service.store.db import data_dir, database_url, open_store, opened, sqlite_url

__all__ = [
    "BlobError",
    "BlobMissing",
    "BlobStoreUnreachable",
    "Blobs",
    "LocalBlobs",
    "S3Blobs",
    "S3Settings",
    "blob_env",
    "data_dir",
    "database_url",
    "open_blobs",
    "open_store",
    "opened",
    "sqlite_url",
]
