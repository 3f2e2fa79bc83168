"""The HTTP service (FastAPI): create_app in service.api.app."""
