"""The FastAPI application: API under /v1, the review UI under /ui, /healthz, /metrics, OpenAPI docs at /docs."""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from service import __version__
from service.api.core import Service, ServiceConfig
from service.api.routes import reports, system

UI_DIR = Path(__file__).parent / "ui"


def create_app(cfg: ServiceConfig | None = None) -> FastAPI:
    cfg = cfg or ServiceConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = Service(cfg)
        app.state.service = svc
        svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(title="xxgk", version=__version__, lifespan=lifespan,
                  description="政府信息公开工作年度报告: upload, extraction jobs, review, export. Tokens: "
                              "`xxgk token create --role uploader|reviewer|admin`; send `Authorization: Bearer …`.")

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "other")
        svc = getattr(request.app.state, "service", None)
        if svc is not None:
            svc.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
            svc.metrics.latency.labels(path).observe(time.perf_counter() - start)
        return response

    app.include_router(reports.router)
    app.include_router(system.router)
    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/ui/")

    return app
