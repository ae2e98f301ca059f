"""Chalice's local HTTP server, fitted for `make run`: a real listen queue, a read timeout, JSON refusals.

Chalice's `LocalDevServer` listens with a queue of 5 (a burst of 50 connections waits seconds),
never times out a client that stops sending mid-request (its thread waits forever), and answers
what it refuses by itself (an over-long request line, too many headers, an unknown method) with
Python's HTML error page. Here those answers use the API's one error shape, unknown methods
(TRACE, CONNECT, ...) are 405 with an Allow header as for a known path, and a body that stops
arriving is answered 408 and its connection closed after a read timeout.
"""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

LISTEN_QUEUE = 128
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit: refused before a byte of it is read
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

_CODES = {
    400: "bad_request",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    505: "http_version_not_supported",
}


def error_json(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()


class _BodyNotReceived(TimeoutError):
    """The client stopped sending its body: answered 408; the TimeoutError closes the connection."""


class LocalRequestHandler(ChaliceRequestHandler):
    timeout = 15.0  # seconds; StreamRequestHandler sets it on the socket (`local_server` chooses it)
    disable_nagle_algorithm = True  # headers and body go in separate writes: no delayed-ACK stall

    def _parse_payload(self) -> tuple[Any, bytes | None]:
        raw_length = self.headers.get("content-length", "0")
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Content-Length {raw_length!r} is not a byte count")
            raise _BodyNotReceived("bad Content-Length") from None
        if length > MAX_BODY_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body exceeds {MAX_BODY_BYTES} bytes")
            raise _BodyNotReceived("body too large")
        body = None
        if length:
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                self.send_error(HTTPStatus.REQUEST_TIMEOUT, "the request body did not arrive in time")
                raise _BodyNotReceived("body timed out") from None
            if len(body) < length:  # the client closed mid-body: nobody is left to answer
                raise _BodyNotReceived("body cut short")
        return dict(self.headers), body

    def log_error(self, format: str, *args: Any) -> None:
        if not format.startswith("Request timed out"):  # an idle keep-alive connection closing: not news
            super().log_error(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Python's HTML error page, replaced by the API's error shape (the server's own refusals)."""
        allow = None
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:  # the only 501: a method with no do_*
            code, allow = HTTPStatus.METHOD_NOT_ALLOWED, ALLOWED_METHODS
            message = f"method {self.command[:40]} is not allowed"
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message)
        body = error_json(_CODES.get(code, "error"), message or status.phrase)
        self.send_response(code, status.phrase)
        self.send_header("Connection", "close")  # what follows on this connection cannot be trusted
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class LocalHTTPServer(ThreadedHTTPServer):
    request_queue_size = LISTEN_QUEUE


def local_server(app: Chalice, config: Config, host: str, port: int, read_timeout: float) -> LocalDevServer:
    """`chalice.local.create_local_server`, with the handler and server above."""
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)  # as create_local_server does
    app.__class__ = CustomLocalChalice
    handler = type("LocalRequestHandler", (LocalRequestHandler,), {"timeout": read_timeout})
    return LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=LocalHTTPServer)
