"""The page's routes: upload, validate, results, grid pages, downloads (HTML for people, JSON for the page's script).

``/``                                   the drop zone
``POST /api/sessions``                  a new bundle → ``{"id", "max_upload"}``
``POST /api/sessions/{id}/files?name=`` one file, the request body as is (streamed to disk, size-checked)
``POST /api/sessions/{id}/validate``    validate what was uploaded (in the background)
``GET  /api/sessions/{id}``             progress, then the counts
``DELETE /api/sessions/{id}``           forget the bundle: its files are deleted now
``GET  /api/sessions/{id}/files/{n}/rows?page=&size=&only=problems&rule=``  a page of rows, JSON
``GET  /s/{id}``                        the results: summary, problems by rule and file, downloads
``GET  /s/{id}/files/{n}?page=&size=&only=problems&rule=&row=``  a page of a file's rows, HTML
``GET  /s/{id}/download/{name}``        report.xlsx, report.json, report.csv, split.zip
``GET  /static/...``                    the page's own script and style (nothing from elsewhere)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from omnimig import i18n
from omnimig.i18n import _
from omnimig.serve.sessions import DOWNLOADS, Session, UploadRefused, size_text

HERE = Path(__file__).resolve().parent
#: Rows per grid page: the default and the most a request may ask for.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Examples listed under each rule of each file on the results page.
EXAMPLES = 5


def _markup(text: str) -> Markup:
    """A translated text as template markup: escaped once here, so that ``.format`` escapes each value.

    ``{{ _("{n} of {total}").format(n=..., total=...) }}`` then works as in Python: the
    translation is the format string, a value is text (a file name with ``<`` stays text), and a
    value the template marks as markup (``<kbd>n</kbd>``) is kept.
    """
    return Markup(escape(text))


def _template_gettext(message: str) -> Markup:
    return _markup(i18n._(message))


def _template_ngettext(singular: str, plural: str, n: int) -> Markup:
    return _markup(i18n.ngettext(singular, plural, n))


def _template_pgettext(context: str, message: str) -> Markup:
    return _markup(i18n.pgettext(context, message))


def _template_npgettext(context: str, singular: str, plural: str, n: int) -> Markup:
    return _markup(i18n.catalogue().npgettext(context, singular, plural, n))


def _templates() -> Jinja2Templates:
    """The page's templates, their text through omnimig's catalogue (``jinja2.ext.i18n``).

    The language is the process's (``omnimig --lang tr serve``, ``OMNIMIG_LANG``, the locale):
    the problem messages are written in it when a bundle is validated, so the page around them
    speaks it too. ``pybabel extract`` reads the templates' ``_()`` and ``ngettext()`` calls
    (``babel.cfg``); their ``{named}`` placeholders are filled by ``.format`` after translation.
    """
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        pgettext=_template_pgettext,
        npgettext=_template_npgettext,
        newstyle=False,
    )
    env.filters["num"] = i18n.number
    env.globals["lang"] = i18n.current
    env.globals["Markup"] = Markup
    env.globals["page_texts"] = page_texts
    return Jinja2Templates(env=env)


def page_texts() -> dict[str, str]:
    """The texts the page's script writes (``static/app.js``), translated here and sent as JSON in the page.

    The script is a static file (CSP ``default-src 'self'``: no inline script), so it reads these
    from ``<script type="application/json" id="texts">`` and fills the ``{named}`` placeholders.
    """
    return {
        "lang": i18n.current(),
        "thousands": "." if i18n.current() == "tr" else ",",
        "decimal": "," if i18n.current() == "tr" else ".",
        "bytes": _("{n} bytes"),
        "file_one": i18n.ngettext("{n} file", "{n} files", 1),
        "file_other": i18n.ngettext("{n} file", "{n} files", 2),
        "chosen": _("{files}, {size}"),
        "too_large": _("{chosen} — more than this page takes ({limit})"),
        "sending": _("sending {file} ({n} of {total}) to omnimig on this computer"),
        "checking": _("checking…"),
        "cannot_start": _("cannot start: {status}"),
        "upload_failed": _("the upload failed"),
        "row": _("row {row}"),
        "header": _("header"),
    }


templates = _templates()


def routes() -> list[BaseRoute]:
    return [
        Route("/", index),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route("/api/sessions/{sid}", session_status, methods=["GET"]),
        Route("/api/sessions/{sid}", forget_session, methods=["DELETE"]),
        Route("/api/sessions/{sid}/files", upload_file, methods=["POST"]),
        Route("/api/sessions/{sid}/validate", start_validation, methods=["POST"]),
        Route("/api/sessions/{sid}/files/{number:int}/rows", rows_json),
        Route("/s/{sid}", results),
        Route("/s/{sid}/files/{number:int}", grid_page),
        Route("/s/{sid}/download/{name}", download),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


def _session(request: Request) -> Session:
    session = request.app.state.sessions.get(request.path_params["sid"])
    if session is None:
        raise _NotFound(_("no such bundle (it was deleted, or the server was restarted): drop the files again"))
    return session


class _NotFound(Exception):
    pass


def _problem(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def index(request: Request) -> Response:
    limit = request.app.state.sessions.max_upload
    return templates.TemplateResponse(request, "index.html", {"max_upload": limit, "max_upload_text": size_text(limit)})


async def new_session(request: Request) -> Response:
    session = request.app.state.sessions.new()
    return JSONResponse({"id": session.id, "max_upload": session.max_upload}, 201)


async def session_status(request: Request) -> Response:
    try:
        session = _session(request)
    except _NotFound as exc:
        return _problem(str(exc), 404)
    body: dict[str, Any] = {"id": session.id, "files": list(session.names), **session.progress.to_dict()}
    report = session.report
    if report is not None:
        body.update(
            valid=report.valid,
            errors=report.errors,
            warnings=report.warnings,
            rows=report.rows,
            exit_code=report.exit_code,
            results=[
                {"file": Path(r.path).name, "type": r.type, "rows": r.rows, "errors": r.errors, "warnings": r.warnings}
                for r in report.files
            ],
        )
    return JSONResponse(body)


async def forget_session(request: Request) -> Response:
    dropped = request.app.state.sessions.drop(request.path_params["sid"])
    return Response(status_code=204 if dropped else 404)


async def upload_file(request: Request) -> Response:
    """One file, streamed into the session's private folder; refused past ``--max-upload``.

    The name comes from ``?name=`` and is reduced to its last part (``safe_name``): a folder's
    relative path or a hostile ``../../x`` lands in the session's own folder, nowhere else.
    """
    from omnimig.io.private import open_private

    try:
        session = _session(request)
    except _NotFound as exc:
        return _problem(str(exc), 404)
    length_header = request.headers.get("content-length")
    length = int(length_header) if length_header and length_header.isdigit() else None
    try:
        path = session.reserve(request.query_params.get("name", ""), length)
    except UploadRefused as exc:
        return _problem(str(exc), exc.status)
    size = 0
    try:
        with open_private(path, "xb") as f:
            async for block in request.stream():
                session.received(len(block))
                size += len(block)
                f.write(block)
    except UploadRefused as exc:
        session.forget(path, size)
        return _problem(str(exc), exc.status)
    except BaseException:  # the browser went away mid-file: no half file is validated
        session.forget(path, size)
        raise
    return JSONResponse({"name": path.name, "bytes": size}, 201)


async def start_validation(request: Request) -> Response:
    try:
        session = _session(request)
        session.start()
    except _NotFound as exc:
        return _problem(str(exc), 404)
    except UploadRefused as exc:
        return _problem(str(exc), exc.status)
    return JSONResponse({"url": f"/s/{session.id}", **session.progress.to_dict()}, 202)


def _grid_args(request: Request) -> dict[str, Any]:
    q = request.query_params

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = q.get(name, "")
        return max(low, min(int(raw), high)) if raw.isdigit() else default

    return {
        "page": number("page", 1, 1, 10**12) - 1,
        "size": number("size", PAGE_SIZE, 1, MAX_PAGE_SIZE),
        "only_problems": q.get("only") == "problems",
        "rule": q.get("rule") or None,
        "row": number("row", 0, 0, 10**12) or None,
    }


def _file_grid(session: Session, number: int) -> Any:
    grid = session.grid
    if grid is None or not 0 <= number < len(grid.files):
        raise _NotFound(_("no such file in this bundle"))
    return grid, grid.files[number]


async def rows_json(request: Request) -> Response:
    try:
        session = _session(request)
        grid, f = _file_grid(session, request.path_params["number"])
    except _NotFound as exc:
        return _problem(str(exc), 404)
    if not f.ready:
        return JSONResponse({"ready": False, "copied": f.copied, "rows": f.result.rows}, 202)
    if f.note:
        return JSONResponse({"ready": True, "note": session.shown(f.note), "rows": [], "total": 0})
    args = _grid_args(request)
    row = args.pop("row")
    if row is not None:
        args["page"] = await run_in_threadpool(
            grid.page_of, f.number, row, args["size"], args["only_problems"], args["rule"]
        )
    page = await run_in_threadpool(grid.page, f.number, **args)
    return JSONResponse({"ready": True, **page.to_dict()})


async def results(request: Request) -> Response:
    try:
        session = _session(request)
    except _NotFound as exc:
        return templates.TemplateResponse(request, "gone.html", {"message": str(exc)}, 404)
    if session.report is None:
        return templates.TemplateResponse(request, "working.html", {"session": session})
    context = await run_in_threadpool(_results_context, session)
    return templates.TemplateResponse(request, "results.html", context)


def _results_context(session: Session) -> dict[str, Any]:
    """What the results page shows, from the report alone (counts are the report's, exact)."""
    report = session.report
    assert report is not None
    files: list[dict[str, Any]] = []
    for n, r in enumerate(report.files):
        groups: list[dict[str, Any]] = []
        for (rule, field, severity), count in sorted(
            r.counts().items(), key=lambda item: (item[0][2] != "error", -item[1], item[0][0])
        ):
            examples = r.problems.examples((rule, field, severity), EXAMPLES)
            groups.append(
                {
                    "rule": rule,
                    "field": field,
                    "severity": severity,
                    "count": count,
                    "examples": [
                        {"row": p.row, "value": p.value, "message": session.shown(p.message)} for p in examples
                    ],
                }
            )
        files.append(
            {
                "number": n,
                "name": Path(r.path).name,
                "type": r.type,
                "format": r.format,
                "rows": r.rows,
                "errors": r.errors,
                "warnings": r.warnings,
                "readable": r.readable,
                "groups": groups,
            }
        )
    by_rule: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in files:
        for g in f["groups"]:
            by_rule[g["rule"]][f["name"]] += g["count"]
    bundle = [
        {"rule": p.rule, "severity": p.severity, "type": p.type, "message": session.shown(p.message)}
        for p in report.outcome.problems
    ]
    return {
        "session": session,
        "report": report,
        "files": files,
        "by_rule": sorted(by_rule.items(), key=lambda item: -sum(item[1].values())),
        "bundle": bundle,
        "notes": [session.shown(n) for n in report.notes],
        "skipped": [session.shown(s) for s in report.skipped],
        "unreadable": [session.shown(u) for u in report.unreadable],
        "stats": report.stats.lines() if report.files else [],
        "order": [f["type"] for f in files if f["type"]],
        "downloads": list(DOWNLOADS),
    }


async def grid_page(request: Request) -> Response:
    try:
        session = _session(request)
        grid, f = _file_grid(session, request.path_params["number"])
    except _NotFound as exc:
        return templates.TemplateResponse(request, "gone.html", {"message": str(exc)}, 404)
    context: dict[str, Any] = {"session": session, "file": f, "name": Path(f.result.path).name}
    if not f.ready or f.note:
        context["note"] = session.shown(f.note) if f.note else None
        return templates.TemplateResponse(request, "grid.html", context)
    args = _grid_args(request)
    row = args.pop("row")
    if row is not None:
        args["page"] = await run_in_threadpool(
            grid.page_of, f.number, row, args["size"], args["only_problems"], args["rule"]
        )
    page = await run_in_threadpool(grid.page, f.number, **args)
    rules = await run_in_threadpool(grid.rules, f.number)
    context.update(page=page, rules=rules, args=args, focus=row)
    return templates.TemplateResponse(request, "grid.html", context)


async def download(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        session = _session(request)
    except _NotFound as exc:
        return PlainTextResponse(str(exc), 404)
    if name not in DOWNLOADS or session.report is None:
        return PlainTextResponse(_("no such download (the bundle may still be validating)"), 404)
    from omnimig.exceptions import Error

    try:
        path = await run_in_threadpool(session.download, name)
    except Error as exc:
        return PlainTextResponse(session.shown(str(exc)), 409)
    return FileResponse(path, media_type=DOWNLOADS[name], filename=f"omnimig-{name}")
