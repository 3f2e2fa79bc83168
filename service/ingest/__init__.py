"""Format backends: one module per input kind, all producing a service.document.Document."""

from service.ingest.base import Backend, IngestError, LimitExceeded, backend_for, load_document

__all__ = ["Backend", "IngestError", "LimitExceeded", "backend_for", "load_document"]
