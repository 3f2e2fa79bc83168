"""The application: API docs, the UI's static files, the redirect to it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.core import ServiceConfig


def test_docs_ui_and_redirect(tmp_path):
    with TestClient(create_app(ServiceConfig(data_dir=tmp_path, local=True, start_workers=False))) as client:
        assert client.get("/docs").status_code == 200
        spec = client.get("/openapi.json").json()
        assert {"/v1/reports", "/v1/reports/{report_id}", "/v1/review/queue", "/healthz"} <= set(spec["paths"])
        assert "CellValue" in spec["components"]["schemas"] and "Check" in spec["components"]["schemas"]
        root = client.get("/", follow_redirects=False)
        assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
        ui = client.get("/ui/")
        assert ui.status_code == 200 and "<html" in ui.text.lower()
