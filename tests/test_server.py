"""server: the try-it page's limits: connections capped, slow requests closed, one line per refusal."""

import socket
import threading
import time

import pytest

from digit_concepts.tool import server

SERVE_LIMITS = server.Limits(connections=2, request_seconds=0.6, keep_alive_seconds=1, header_bytes=4096)


def test_serve_passes_its_limits_to_uvicorn():
    config = server.uvicorn_config(None, SERVE_LIMITS)
    assert config.limit_concurrency == 3  # uvicorn counts the asking connection: it refuses past 2, as the guard
    assert (config.timeout_keep_alive, config.h11_max_incomplete_event_size) == (1, 4096)
    assert config.http.func is server.GuardedH11Protocol and config.http.keywords == {"limits": SERVE_LIMITS}
    assert config.timeout_graceful_shutdown is not None
    defaults = server.uvicorn_config(None)
    assert defaults.limit_concurrency == server.Limits().connections + 1 and defaults.timeout_keep_alive == 5


@pytest.fixture
def small_server():
    """(base URL, warning lines) of a page app on a fake learner under SERVE_LIMITS: the connection
    guards are under test, not the learner."""
    import logging

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    page = object.__new__(server.Page)  # no learner: what ``answer`` uses, and nothing else
    page.learner, page.image_from, page.limits, page.examples = None, "concept", SERVE_LIMITS, {}
    page.worker, page.worker_lock = None, threading.Lock()
    async def drawing(request):
        return await page.answer(request, lambda learner, content, *limits: {"length": len(content),
                                                                             "examples_of": 0})

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok")),
                            Route("/api/drawing", drawing, methods=["POST"])])
    lines = []

    class Lines(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage() + (" TRACEBACK" if record.exc_info else ""))

    with server.serving(app, limits=SERVE_LIMITS) as base:
        handler = Lines()
        logging.getLogger("uvicorn.error").addHandler(handler)
        try:
            yield base, lines
        finally:
            logging.getLogger("uvicorn.error").removeHandler(handler)
    page.stop()


def _connected(base: str) -> socket.socket:
    host, port = base.split("//")[1].rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_serve_refuses_a_connection_past_its_cap_and_closes_slow_requests_in_one_line_each(small_server):
    base, lines = small_server
    idle = [_connected(base) for _ in range(2)]
    time.sleep(0.1)
    third = _connected(base)
    assert _answer(third).startswith(b"HTTP/1.1 503 Service Unavailable")
    assert len(lines) == 1 and lines[0].startswith("refused a connection from 127.0.0.1:"), lines
    assert lines[0].endswith(": 2 are open, the most the page serves at once"), lines
    # Silent clients: closed at the deadline, with 408, not kept open.
    started = time.monotonic()
    for connection in idle:
        assert _answer(connection).startswith(b"HTTP/1.1 408 Request Timeout")
    assert time.monotonic() - started < 2.0
    # A body that trickles: closed at the deadline; the app sees the client leave, without a traceback.
    slow = _connected(base)
    slow.sendall(b"POST /api/drawing HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; "
                 b"boundary=x\r\ncontent-length: 1000\r\n\r\n--x\r\n")
    assert _answer(slow) == b""
    time.sleep(0.2)
    closed = [line for line in lines[1:] if line.startswith("closed the connection from 127.0.0.1:")]
    assert len(closed) == 3 and all(line.endswith("its request did not arrive whole within 0.6 s") for line in closed)
    assert not [line for line in lines if "TRACEBACK" in line or "Exception" in line], lines
    # Headers that go on past their cap: 400, one line (uvicorn's own).
    endless = _connected(base)
    endless.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + b"a" * 5000)
    assert _answer(endless).startswith(b"HTTP/1.1 400")
    assert lines[-1] == "Invalid HTTP request received.", lines
    # A whole request is still answered; the connection, kept alive, closes when idle, without a 408.
    answered = _connected(base)
    answered.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    received = _answer(answered)
    assert received.startswith(b"HTTP/1.1 200 OK") and b"408" not in received
    # An upload's own refusals are still answered (here: too large).
    declared = _connected(base)
    declared.sendall(b"POST /api/drawing HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; "
                     b"boundary=x\r\ncontent-length: 99999999\r\n\r\n")
    assert _answer(declared).startswith(b"HTTP/1.1 413")
    assert not [line for line in lines if "TRACEBACK" in line], lines
