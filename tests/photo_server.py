"""A real HTTP server on 127.0.0.1 that serves generated photos and every kind of bad answer."""

from __future__ import annotations

import http.server
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from PIL import Image


def make_image(colour: str, image_format: str, size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, image_format)
    return buffer.getvalue()


@dataclass
class PhotoServer:
    origin: str
    images: dict[str, bytes]
    hits: Counter[str] = field(default_factory=Counter)
    latency: float = 0.0
    # The client end (address, port) of every connection that sent a request.
    connections: set[tuple[str, int]] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"{self.origin}/{path}"


@contextmanager
def photo_server(latency: float = 0.0, slow_seconds: float = 3.0) -> Iterator[PhotoServer]:
    """Serve /photos/<name> (valid JPEG or PNG) and the misbehaving paths below."""
    images = {
        "red.jpg": make_image("red", "JPEG"),
        "green.jpg": make_image("green", "JPEG"),
        "blue.png": make_image("blue", "PNG"),
    }
    state = PhotoServer("", images, latency=latency)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm on, a kept-alive
        # connection would wait for the client's delayed ACK (40 ms) before each body.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            state.hits[path] += 1
            state.connections.add(self.client_address)
            if state.latency:
                time.sleep(state.latency)
            name = path.removeprefix("photos/").split("?")[0]
            if path.startswith("photos/") and name in images:
                kind = "image/png" if name.endswith(".png") else "image/jpeg"
                self._send(200, kind, images[name])
            elif path.startswith("latency/"):
                self._send(200, "image/jpeg", images["red.jpg"])
            elif path == "missing.jpg":
                self._send(404, "text/plain", b"not found")
            elif path == "flaky.jpg":
                if state.hits[path] == 1:
                    self._send(500, "text/plain", b"try again")
                else:
                    self._send(200, "image/jpeg", images["green.jpg"])
            elif path == "retry-after.jpg":
                if state.hits[path] == 1:
                    self.send_response(429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send(200, "image/jpeg", images["red.jpg"])
            elif path == "always-500.jpg":
                self._send(503, "text/plain", b"down")
            elif path == "page.jpg":
                self._send(200, "text/html", b"<html><body>not a photo</body></html>")
            elif path == "slow.jpg":
                time.sleep(slow_seconds)
                self._send(200, "image/jpeg", images["red.jpg"])
            elif path == "huge.jpg":
                self._send(200, "image/jpeg", b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
            elif path == "huge-unsized.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
            elif path == "wrong-signature.jpg":
                self._send(200, "image/jpeg", b"GIF89a" + b"\0" * 100)
            else:
                self._send(404, "text/plain", b"unknown")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
