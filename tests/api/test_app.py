"""The application: API docs, the UI's static files, the redirect to it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.core import ServiceConfig
from tests.api.helpers import LOCAL


def test_docs_ui_and_redirect(tmp_path):
    with TestClient(
        create_app(ServiceConfig(data_dir=tmp_path, local=True, start_workers=False)), base_url=LOCAL
    ) as client:
        docs = client.get("/docs")
        assert docs.status_code == 200 and "http" not in docs.text  # no CDN: every asset from this server
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/ui/docs-init.js"):
            assert asset in docs.text and client.get(asset).status_code == 200
        spec = client.get("/openapi.json").json()
        assert {"/v1/reports", "/v1/reports/{report_id}", "/v1/review/queue", "/healthz"} <= set(spec["paths"])
        assert "CellValue" in spec["components"]["schemas"] and "Check" in spec["components"]["schemas"]
        root = client.get("/", follow_redirects=False)
        assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
        ui = client.get("/ui/")
        assert ui.status_code == 200 and "<html" in ui.text.lower()


def test_every_response_carries_the_browser_security_headers(tmp_path):
    with TestClient(
        create_app(ServiceConfig(data_dir=tmp_path, local=True, start_workers=False)), base_url=LOCAL
    ) as client:
        for path in ("/healthz", "/ui/", "/ui/app.js", "/docs", "/v1/reports", "/v1/reports/nope"):
            r = client.get(path)
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
            assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
        page = client.get("/ui/").text + client.get("/ui/app.js").text
        assert "style=" not in page and "<script>" not in page  # nothing inline the policy would block


def test_local_mode_answers_only_the_loopback(tmp_path):
    """No tokens in local mode: a web page elsewhere must not get the user's browser to act on it (a foreign
    Origin), nor a DNS-rebound name reach it (a foreign Host)."""
    with TestClient(
        create_app(ServiceConfig(data_dir=tmp_path, local=True, start_workers=False)), base_url=LOCAL
    ) as client:
        assert client.get("/v1/reports").status_code == 200
        assert client.get("/v1/reports", headers={"Origin": "http://localhost:8000"}).status_code == 200
        assert client.get("/v1/reports", headers={"Host": "[::1]:8000"}).status_code == 200
        for headers in (
            {"Host": "evil.example"},
            {"Host": "127.0.0.1.evil.example:8000"},
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
        ):
            r = client.post("/v1/reports/any/approve", headers=headers)
            assert r.status_code == 403 and "loopback" in r.json()["detail"], headers
