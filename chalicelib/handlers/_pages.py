"""Pages for people (issue 9, D-S6): the same public routes answer a browser with HTML, an API client with JSON.

A browser (`Accept` preferring text/html) gets a server-rendered, mobile-first page in Chinese or
English (`Accept-Language`, or `?lang=` from the page's switch); everything else keeps its JSON.
The report form works without JavaScript (a plain form post answered by a 303 to the status page,
or by the page again with the problems named); with JavaScript the page's own script scales photos
down and uploads them straight to storage before sending the report as JSON.

Pages show the school, room and lamp, never a person's name or phone number. Links are relative to
the API's root, so a page works on any host name and under a stage prefix (`/api`).

Jinja2 loads with the first page rendered, never on `import app` (devtools/bench_cold_import.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from chalice import Response

from chalicelib import errors
from chalicelib.entry import failures
from chalicelib.handlers.page_text import HTML_LANG, LANGS, MONTHS_EN, SWITCH_LABEL, TEXT
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:
    import jinja2

    from chalicelib.entry import validation
    from chalicelib.handlers._api import RequestContext
    from chalicelib.schemas import PublicReportIn
    from chalicelib.services import public_reports, report_pages
else:
    public_reports = lazy_module("chalicelib.services.public_reports")
    report_pages = lazy_module("chalicelib.services.report_pages")
    validation = lazy_module("chalicelib.entry.validation")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HTML = "text/html"
FORM_FIELDS = ("fault", "description", "contact_phone", "website")  # what PublicReportIn takes from a form
# The page's own script and style carry a fresh nonce; the photo upload goes to storage's own origin.
CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data: blob:; "
    "connect-src *; base-uri 'none'; frame-ancestors 'none'"
)


# ---- negotiation -------------------------------------------------------------------------------


def _ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            ranges.append((name.lower(), q))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, float]]) -> float:
    """The q of the most specific range that matches (RFC 9110 12.5.1)."""
    kind = media_type.split("/", maxsplit=1)[0]
    best, specificity = 0.0, -1
    for name, q in ranges:
        level = 2 if name == media_type else 1 if name == f"{kind}/*" else 0 if name == "*/*" else -1
        if level > specificity:
            best, specificity = q, level
    return best


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def wants_html(headers: dict[str, str]) -> bool:
    """A browser asks for text/html first; an API client (`application/json`, `*/*`, nothing) keeps JSON."""
    ranges = _ranges(_header(headers, "accept"))
    return _quality(HTML, ranges) > _quality("application/json", ranges)


def language(headers: dict[str, str], chosen: str | None = None) -> str:
    """`?lang=` (the page's switch) wins; then the browser's `Accept-Language`; Chinese by default."""
    if chosen in LANGS:
        return str(chosen)
    ranked = sorted(_ranges(_header(headers, "accept-language")), key=lambda r: -r[1])
    for name, q in ranked:
        primary = name.split("-")[0]
        if q > 0 and primary in LANGS:
            return primary
    return LANGS[0]


# ---- rendering ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2  # deferred: only a page pays for it

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a template says otherwise
        undefined=jinja2.StrictUndefined,  # a missing string is a failed render, not a blank on a phone
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _clock(lang: str, now: dt.datetime) -> Any:
    """Times in the school's zone: "10:02" today, "3月5日 10:02" / "5 Mar 10:02" on another day."""
    from chalicelib.domain.public_reports import SCHOOL_TZ

    today = now.astimezone(SCHOOL_TZ).date()

    def when(at: dt.datetime | None) -> str:
        if at is None:
            return ""
        local = at.astimezone(SCHOOL_TZ)
        clock = f"{local:%H:%M}"
        if local.date() == today:
            return clock
        day = TEXT[lang]["date"].format(month=local.month, day=local.day, month_name=MONTHS_EN[local.month - 1])
        return f"{day} {clock}"

    return when


def render(
    template: str,
    lang: str,
    path: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """`path` is the page's GET address under the API root ("r/<token>", "s/<ref>"): the language switch
    links to it, and `root` makes every other link relative to the API root."""
    nonce = secrets.token_urlsafe(16)
    depth = context.pop("depth", 1)
    other = [code for code in LANGS if code != lang]
    html = (
        _environment()
        .get_template(template)
        .render(
            lang=lang,
            html_lang=HTML_LANG[lang],
            t=TEXT[lang],
            root="../" * depth,
            path=path,
            switch=[(code, SWITCH_LABEL[code]) for code in other],
            nonce=nonce,
            when=_clock(lang, dt.datetime.now(dt.UTC)),
            **context,
        )
    )
    return Response(
        body=html,
        status_code=status,
        headers={
            "Content-Type": f"{HTML}; charset=utf-8",
            "Content-Security-Policy": CSP.format(nonce=nonce),
            "Cache-Control": "no-store",
            "Vary": "Accept, Accept-Language",
            "Referrer-Policy": "no-referrer",  # the label's token is in the address
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def _message(lang: str, path: str, key: str, status: int, depth: int = 1, **words: Any) -> Response:
    headers = {}
    if key == "throttled":
        headers["Retry-After"] = str(words["retry_after"])
    text = TEXT[lang][key].format(**words)
    return render(
        "message.html",
        lang,
        path,
        status=status,
        headers=headers,
        depth=depth,
        title=TEXT[lang][f"{key}_title"],
        text=text,
    )


def _failure(exc: errors.DomainError, lang: str, path: str, not_found: str, depth: int = 1) -> Response:
    """A friendly page with no internal detail: what a person can do next."""
    if isinstance(exc, errors.NotFound):
        return _message(lang, path, not_found, 404, depth)
    if isinstance(exc, errors.Throttled):
        minutes = max(1, -(-exc.retry_after // 60))
        return _message(lang, path, "throttled", 429, depth, minutes=minutes, retry_after=exc.retry_after)
    return _message(lang, path, "failed", failures.http_status(exc), depth)


# ---- the pages ---------------------------------------------------------------------------------

FAULT_ORDER = (
    "room_dark",
    "not_lit",
    "flickering",
    "dim",
    "noise",
    "physical_damage",
    "controller_fault",
    "other",
)
# What the page's script may say, in the page's language.
SCRIPT_WORDS = (
    "sending",
    "photos_too_many",
    "error_fault",
    "error_description",
    "error_contact_phone",
    "error_photo",
    "error_other",
    "error_network",
    "done_joined",
    "throttled_title",
    "lamp_not_found_title",
)


def _report(
    lang: str,
    token: str,
    *,
    status: int = 200,
    depth: int = 1,
    values: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> Response:
    path = f"r/{quote(token, safe='')}"
    try:
        page = report_pages.lamp_page(token)
    except errors.DomainError as exc:
        return _failure(exc, lang, path, "lamp_not_found", depth)
    return render(
        "report.html",
        lang,
        path,
        status=status,
        depth=depth,
        page=page,
        faults=FAULT_ORDER,
        values=values or {},
        problems=problems or [],
        max_photos=3,
        words={key: TEXT[lang][key] for key in SCRIPT_WORDS},
    )


def report_page(ctx: RequestContext, token: str) -> Response:
    """GET /r/{qr_token} for a browser: the lamp, its open case if any, and the report form."""
    return _report(language(ctx.headers, ctx.query_params.get("lang")), token)


def _problem_keys(exc: errors.DomainError) -> list[str]:
    keys = []
    for detail in exc.details:
        name = detail.field.split(".")[0]
        key = f"error_{name}" if name in ("fault", "description", "contact_phone") else None
        if name == "photo_ids":
            key = "error_photo"
        keys.append(key or "error_other")
    return list(dict.fromkeys(keys)) or ["error_other"]


def report_form_post(ctx: RequestContext, token: str) -> Response:
    """POST /r/{qr_token}/reports as a plain form (JavaScript off): 303 to the status page, or the page
    again naming what to fix (422), or a friendly page (404 for a dead label, 429 when throttled)."""
    try:
        form = parse_qs(ctx.raw_body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than any form of ours has
        form = {}
    values = {name: form[name][0] for name in FORM_FIELDS if name in form}
    lang = language(ctx.headers, (form.get("lang") or [""])[0] or ctx.query_params.get("lang"))
    path = f"r/{quote(token, safe='')}"
    try:
        from chalicelib.handlers._api import schema

        body: PublicReportIn = validation.parse_payload(values, schema("PublicReportIn"))  # type: ignore[assignment]
        out = public_reports.submit_report(token, body, ctx.client)
    except errors.InvalidInput as exc:  # the schema's refusals and the photo checks
        return _report(lang, token, status=422, depth=2, values=values, problems=_problem_keys(exc))
    except errors.DomainError as exc:
        return _failure(exc, lang, path, "lamp_not_found", depth=2)
    # Relative to /r/{qr_token}/reports, so the browser stays on the host and stage it came through.
    location = f"../../s/{quote(out.public_ref, safe='')}?lang={lang}"
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def status_page(ctx: RequestContext, public_ref: str) -> Response:
    """GET /s/{public_ref} for a browser: the stage in plain words, the expected time, a plain history."""
    lang = language(ctx.headers, ctx.query_params.get("lang"))
    path = f"s/{quote(public_ref, safe='')}"
    try:
        status = public_reports.public_status(public_ref)
    except errors.DomainError as exc:
        return _failure(exc, lang, path, "report_not_found")
    return render("status.html", lang, path, status=200, report=status)
