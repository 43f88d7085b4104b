"""The browser UI of ``normalcy serve`` and the calibration endpoint it needs.

``ui_router(models)`` returns a FastAPI router with:

* ``GET /`` (redirects to ``/ui``), ``GET /ui`` and its two assets ``/ui/app.js`` and
  ``/ui/app.css``: a plain HTML page and a little vanilla JavaScript, served from the
  package (``normalcy/serve/static/``), no build step and nothing fetched from elsewhere
  (a strict Content-Security-Policy says so to the browser). These paths (``UI_PATHS``) are
  public; every API call the page makes sends the bearer token typed into it.
* ``GET /models/{name}/calibration``: the calibrated threshold with the sketch of the
  calibration scores saved with it (``Threshold.quantiles``), from which the page computes
  the false-positive rate a moved threshold implies. 404 for an unknown model, 409 when the
  model is not calibrated or its file predates the sketch.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse, Response

UI_PATH = "/ui"
# file name -> media type; the only files served (no directory listing, no path joins)
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
UI_PATHS = ("/", UI_PATH, *(f"{UI_PATH}/{name}" for name in ASSETS))
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _static(name: str) -> bytes:
    return (files("normalcy.serve") / "static" / name).read_bytes()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def calibration(detector: Any) -> dict[str, Any] | None:
    """The calibration payload of a detector, or None when it has no threshold."""
    t = getattr(detector, "threshold", None)
    if t is None:
        return None
    return {
        "threshold": float(t.value),
        "method": t.method,
        "rate": float(t.rate),
        "fpr": float(t.rate) if t.method == "fpr" else None,
        "n_calibration": int(t.n_calibration),
        "calibration": t.calibration,
        "quantiles": list(t.quantiles) if t.quantiles is not None else None,
        "quantile_levels": list(t.quantile_levels) if t.quantile_levels is not None else None,
        "implied_fpr": t.implied_rate(t.value),
    }


def ui_router(models: dict[str, Any]) -> APIRouter:
    """The UI routes over the service's loaded models (name → object with ``.detector``)."""
    router = APIRouter()
    page = _static("index.html")
    assets = {name: _static(name) for name in ASSETS}

    @router.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(UI_PATH)

    @router.get(UI_PATH, include_in_schema=False)
    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=_HEADERS)

    @router.get(UI_PATH + "/{asset}", include_in_schema=False)
    async def asset(asset: str) -> Response:
        if asset not in assets:
            return _error(404, f"no UI asset {asset!r}")
        return Response(assets[asset], media_type=ASSETS[asset], headers=_HEADERS)

    @router.get("/models/{name}/calibration")
    async def model_calibration(name: str) -> Any:
        """The calibrated threshold, its rate and the sketch of the calibration scores:
        ``quantiles`` (increasing) and ``quantile_levels`` (the fraction of calibration
        scores at or below each). The FPR a threshold ``t`` implies is one minus the level
        of the largest quantile ``<= t`` (1 when ``t`` is below them all)."""
        if name not in models:
            return _error(404, f"unknown model {name!r}; served models: {sorted(models)}")
        det = getattr(models[name], "detector", models[name])
        payload = calibration(det)
        if payload is None:
            return _error(
                409,
                f"model {name!r} is not calibrated: it has no threshold (calibrate it on "
                "held-out normal data: `normalcy calibrate` or det.calibrate(X, fpr=...))",
            )
        if payload["quantiles"] is None:
            return _error(
                409,
                f"model {name!r} has a threshold ({payload['threshold']:.6g}) but no saved "
                "calibration scores (a file saved before normalcy kept them, or a threshold "
                "set without data); recalibrate it to move the threshold by its FPR",
            )
        return payload

    return router
