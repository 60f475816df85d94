"""The try-it page: ``digit-concepts serve``, a local web app (Starlette on uvicorn) in which a
person draws or says a digit and sees what the learner makes of it.

The routes are thin: an upload is read by the tool's own readers (``user_files``), recognised and
imagined by the same ``Learner`` that ``recognise`` and ``imagine`` use (``page_content`` turns
the answer into what the page shows). Safe by default:

- it listens on 127.0.0.1 unless told otherwise, and answers only requests addressed to that
  host (a web page elsewhere cannot reach it by DNS rebinding);
- a request body is capped (413 past ``Limits.upload_bytes``, counted as it arrives, so a
  large upload is never held whole), a recording's length and a picture's size too (413), and
  an upload that cannot be used is refused with one line saying why (4xx), never a crash;
- uploads stay in memory (the multipart parser never spills to disk); the concept page's
  pictures are drawn into a temporary folder that is removed at once; nothing else is written;
- no filename or path from a request reaches the file system: files are looked up by exact
  URL in what was read at start-up;
- the learner is loaded once, and every call into it runs on one worker thread (TensorFlow
  models are not guaranteed safe under concurrent predict), so concurrent requests queue there;
- the page loads nothing from the network, and its Content-Security-Policy forbids it to;
- a connection past ``Limits.connections`` is answered 503 and closed at once, before it can hold
  a file descriptor; a request must arrive whole, headers and body, within
  ``Limits.request_seconds`` of its connection opening (or of its first bytes), else the
  connection is closed (408); headers still incomplete past ``Limits.header_bytes`` are refused
  (400), an idle connection closes after ``Limits.keep_alive_seconds``. Each refusal is one warning line.
  uvicorn has no header or body timeout of its own: ``GuardedH11Protocol`` adds them.
"""

import asyncio
import contextlib
import dataclasses
import functools
import importlib.resources
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import h11
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from digit_concepts.tool import try_it_page
from digit_concepts.tool.learner import Learner
from digit_concepts.senses.user_files import TooLarge, UserFileError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ASSETS = {"/app.js": "text/javascript", "/style.css": "text/css"}
SECURITY_HEADERS = {
    # Everything from this server only; data: for the answers' inline pictures and sounds, blob:
    # for the recording being converted. Inline style attributes: the report's zone table uses them.
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    upload_bytes: int = 4 * 1024 * 1024  # a 10 s WAV at 44.1 kHz in stereo is 1.8 MB
    recording_seconds: float = 10.0  # a spoken digit takes about 1 s; FSDD's longest, 2.3 s
    picture_pixels: int = 4_000_000  # the page's canvas sends well under 1,000,000
    # One person's browser opens about 6; every answer queues on one worker thread anyway.
    connections: int = 64
    request_seconds: float = 30.0  # headers and body of one request; the page's own take under 1 s on a LAN
    keep_alive_seconds: int = 5  # an idle connection between requests (uvicorn's default)
    header_bytes: int = 16 * 1024  # request line and headers still incomplete (h11's default; a browser sends under 2 KB)


class UploadTooLarge(Exception):
    pass


class BadRequest(Exception):
    pass


# ----------------------------------------------------------------------------------- uploads


async def capped(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk; UploadTooLarge as soon as it passes ``limit`` bytes."""
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise UploadTooLarge
        yield chunk


async def uploaded_file(request: Request, limit: int) -> bytes:
    """The content of the request's one file (multipart field ``file``), read into memory.
    Its filename, type and any other field are ignored: the content alone says what it is."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the file as multipart/form-data, in a field named 'file'")
    parser = MultiPartParser(request.headers, capped(request.stream(), limit), max_files=1, max_fields=0)
    parser.spool_max_size = limit  # the body is capped at this: the parser never writes a file to disk
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise BadRequest(f"the request is not a usable form ({error.message})") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadRequest("no file in the request (a multipart field named 'file')")
    try:
        return await upload.read()
    finally:
        await upload.close()


def refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# ----------------------------------------------------------------------------------- the app


class Page:
    """The app's state: the learner, its one worker thread, and what was read at start-up."""

    def __init__(self, learner: Learner, image_from: str, limits: Limits):
        self.learner, self.image_from, self.limits = learner, image_from, limits
        self.worker: ThreadPoolExecutor | None = None  # started by the first request, stopped with the app
        self.worker_lock = threading.Lock()  # one worker, even when two event loops serve this app
        # Models loaded and every compiled path run once, so the first visitor waits no longer than the next.
        try_it_page.warm_up(learner, image_from)
        self.examples = try_it_page.training_examples(learner)
        concept_sections, self.concept_files = try_it_page.concept_sections(learner)
        folder = importlib.resources.files(__package__) / "static"
        self.assets = {route: (folder / route.lstrip("/")).read_bytes() for route in ASSETS}
        self.index = try_it_page.fill((folder / "index.html").read_text(), limits)
        self.concepts = try_it_page.fill((folder / "concepts.html").read_text(), limits,
                                          concepts=concept_sections, report_style=try_it_page.report_style())

    async def in_worker(self, function, *arguments):
        """``function(*arguments)`` on the one thread that calls the learner."""
        with self.worker_lock:
            if self.worker is None:
                self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="learner")
            worker = self.worker
        return await asyncio.get_running_loop().run_in_executor(worker, function, *arguments)

    def stop(self) -> None:
        with self.worker_lock:
            worker, self.worker = self.worker, None
        if worker is not None:
            worker.shutdown(wait=True)

    async def answer(self, request: Request, answer) -> Response:
        """Read the upload and answer it with ``answer(learner, content, ...)`` on the worker thread;
        every refusal is one line in JSON with a 4xx status."""
        try:
            content = await uploaded_file(request, self.limits.upload_bytes)
            found = await self.in_worker(answer, self.learner, content, self.limits.recording_seconds,
                                         self.limits.picture_pixels, self.image_from)
            concept = found.pop("examples_of")
            return JSONResponse({**found, "examples": f"/examples/{concept}.png" if concept in self.examples else None})
        except ClientDisconnect:  # gone, or closed by the request deadline (GuardedH11Protocol): nobody to answer
            return refusal(408, "the upload did not arrive whole")
        except UploadTooLarge:
            return refusal(413, f"the upload is too large (more than {self.limits.upload_bytes / 2 ** 20:g} MB)")
        except BadRequest as error:
            return refusal(400, str(error))
        except try_it_page.NotThisSense as error:
            return refusal(415, str(error))
        except TooLarge as error:
            return refusal(413, str(error))
        except UserFileError as error:
            return refusal(422, str(error))

    # --- routes ---
    async def drawing(self, request: Request) -> Response:
        return await self.answer(request, try_it_page.drawing_answer)

    async def recording(self, request: Request) -> Response:
        return await self.answer(request, try_it_page.recording_answer)

    async def home(self, request: Request) -> Response:
        return HTMLResponse(self.index)

    async def concept_page(self, request: Request) -> Response:
        return HTMLResponse(self.concepts)

    async def asset(self, request: Request) -> Response:
        return Response(self.assets[request.url.path], media_type=ASSETS[request.url.path])

    async def concept_file(self, request: Request) -> Response:
        served = self.concept_files.get(request.url.path)
        if served is None:
            return refusal(404, "no such file")
        return Response(served.content, media_type=served.media_type)

    async def training_images(self, request: Request) -> Response:
        strip = self.examples.get(request.path_params["concept"])
        if strip is None:
            return refusal(404, "no training images of that concept")
        return Response(strip, media_type="image/png")

    def routes(self) -> list[Route]:
        return [Route("/", self.home), Route(try_it_page.CONCEPT_PAGE, self.concept_page),
                *(Route(path, self.asset) for path in ASSETS),
                Route("/concepts/media/{name}", self.concept_file), Route("/sounds/{name}", self.concept_file),
                Route("/examples/{concept:int}.png", self.training_images),
                Route("/api/drawing", self.drawing, methods=["POST"]),
                Route("/api/recording", self.recording, methods=["POST"])]


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response (a plain ASGI middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      *((name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items())]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_app(learner: Learner, image_from: str = "concept", limits: Limits = Limits(),
               allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES) -> Starlette:
    """The web app on ``learner`` (loaded once; warmed up here). ``allowed_hosts``: the Host
    headers it answers ("*": any, for --host other than loopback)."""
    page = Page(learner, image_from, limits)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        page.stop()

    hosts = ["*"] if "*" in allowed_hosts else [f"[{name}]" if ":" in name else name for name in allowed_hosts]
    app = Starlette(routes=page.routes(), lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts), Middleware(SecurityHeaders)])
    app.state.page = page
    return app


# ----------------------------------------------------------------------------------- serving


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: any free port); OSError if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, reuse_port=False)


REFUSAL = ("HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {length}\r\n"
           "connection: close\r\n\r\n{text}")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with the two guards it lacks: at most ``limits.connections``
    open connections (one more is answered 503 and closed at once, so that a flood of idle
    connections cannot exhaust the file descriptors), and a deadline for each request to arrive
    whole, headers and body, from the connection's opening or the request's first bytes (a client
    that sends slowly or not at all is closed: 408 if its headers never came, else the app sees the
    client leave). Each refusal is one warning line."""

    def __init__(self, config, server_state, app_state, _loop=None, limits: Limits = Limits()):
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.deadline: asyncio.TimerHandle | None = None

    def who(self) -> str:
        return "%s:%d" % self.client[:2] if self.client else "a client"

    def refuse(self, status: str, text: str) -> None:
        """A raw answer (no request may have been parsed yet), then close."""
        self.transport.write(REFUSAL.format(status=status, length=len(text), text=text).encode())
        self.transport.close()

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.connections:
            self.logger.warning("refused a connection from %s: %d are open, the most the page serves at once",
                                self.who(), self.limits.connections)
            self.refuse("503 Service Unavailable", "too many connections; try again\n")
            return
        self.start_deadline()

    def start_deadline(self) -> None:
        self.stop_deadline()
        self.deadline = self.loop.call_later(self.limits.request_seconds, self.too_slow)

    def stop_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def too_slow(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        self.logger.warning("closed the connection from %s: its request did not arrive whole within %g s",
                            self.who(), self.limits.request_seconds)
        if self.conn.their_state is h11.IDLE:  # no request yet: nothing of the app's to interrupt
            self.refuse("408 Request Timeout", "the request did not arrive in time\n")
        else:  # the app is reading the body: it sees the client leave
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        # The next request on a kept-alive connection starts its own deadline with its first bytes
        # (until then, uvicorn's keep-alive timeout closes an idle connection).
        if self.deadline is None and self.conn.their_state is not h11.DONE:
            self.start_deadline()
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is h11.DONE:  # the request arrived whole: the app may take its time
            self.stop_deadline()

    def connection_lost(self, exc) -> None:
        self.stop_deadline()
        super().connection_lost(exc)


def uvicorn_config(app: Starlette, limits: Limits = Limits()):
    """How uvicorn serves ``app``: HTTP/1.1 through ``GuardedH11Protocol``, with ``limits``."""
    import uvicorn

    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                          http=functools.partial(GuardedH11Protocol, limits=limits),
                          # uvicorn counts the asking connection too: one more than the guard's cap,
                          # so that both refuse past the same number (its 503: "Exceeded concurrency limit").
                          limit_concurrency=limits.connections + 1,
                          timeout_keep_alive=limits.keep_alive_seconds,
                          h11_max_incomplete_event_size=limits.header_bytes,
                          timeout_graceful_shutdown=5)  # Ctrl+C does not wait on open connections


def uvicorn_server(app: Starlette, limits: Limits = Limits()):
    import uvicorn

    return uvicorn.Server(uvicorn_config(app, limits))


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve(app: Starlette, sock: socket.socket, limits: Limits = Limits()) -> None:
    """Serve until interrupted (Ctrl+C, or SIGTERM), then return."""
    try:
        uvicorn_server(app, limits).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly first, then raises it again
        pass


@contextlib.contextmanager
def serving(app: Starlette, host: str = "127.0.0.1", port: int = 0, limits: Limits = Limits()) -> Iterator[str]:
    """Serve ``app`` from a thread of this process while the block runs; yield its base URL (for
    tests and benchmarks: a free port by default)."""
    sock = listening_socket(host, port)
    server = uvicorn_server(app, limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server stopped while starting")
            threading.Event().wait(0.02)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
