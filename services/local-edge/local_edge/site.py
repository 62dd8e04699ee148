"""The front end (what S3 behind CloudFront serves in AWS) and its runtime configuration."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory
from werkzeug.exceptions import NotFound

from rolechat_common.web import error_response

bp = Blueprint("site", __name__)

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rolechat</title></head>
<body><h1>rolechat</h1>
<p>The front end is not built yet. Run <code>make run</code> (it builds <code>frontend/dist</code>),
then reload this page.</p></body></html>
"""


@bp.get("/config.json")
def runtime_config():
    return Response('{"auth": "local"}', mimetype="application/json", headers={"Cache-Control": "no-cache"})


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def static(path: str):
    root: Path = current_app.config["EDGE"].static_dir.absolute()  # relative to the working directory
    if path and path != "index.html":
        try:
            response = send_from_directory(root, path)
        except NotFound:
            response = None
        if response is not None:
            if path.startswith("assets/"):  # content-hashed names: cache forever
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
        if path.startswith("assets/"):  # a missing script must not come back as HTML
            return error_response(404, "not_found", "Not found.")
    if (root / "index.html").is_file():  # the single-page app routes everything else itself
        response = send_from_directory(root, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response
    return Response(NOT_BUILT, status=503, mimetype="text/html")
