"""Format backends: one module per input kind, all producing a service.document.Document."""

from service.ingest.base import (
    Backend,
    IngestError,
    LimitExceeded,
    backend_for,
    load_document,
    pages_to_read,
    read_one_page,
)

__all__ = ["Backend", "IngestError", "LimitExceeded", "backend_for", "load_document", "pages_to_read", "read_one_page"]
