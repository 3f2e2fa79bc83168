"""The store: SQLAlchemy tables (orm), engine and migrations (db), uploaded files (blobs), operations (crud)."""

from service.store.blobs import BlobStore
from service.store.db import data_dir, database_url, open_store, opened, sqlite_url

__all__ = ["BlobStore", "data_dir", "database_url", "open_store", "opened", "sqlite_url"]
