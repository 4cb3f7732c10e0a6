"""A local stand-in for the two servers `esm-onnx download` talks to, on 127.0.0.1: fair-esm's file tree
(/fair-esm/models/<name>.pt, /fair-esm/regression/<name>-contact-regression.pt) and the hub's resolve
endpoint (/<owner>/<repo>/resolve/<revision>/<file>) with its headers (ETag, X-Repo-Commit, X-Linked-Etag
and a redirect to a CDN path for large files). Behaviours for the tests: a connection dropped halfway, a
stall, a 500, a gated repository, bytes that do not match their checksum."""
from __future__ import annotations

import hashlib
import http.server
import pathlib
import socketserver
import threading
import time

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Server:
    def __init__(self):
        self.fair_esm: dict[str, bytes] = {}  # "models/x.pt" -> bytes
        self.repos: dict[str, dict[str, bytes]] = {}  # "owner/name" -> {file: bytes}
        self.gated: dict[str, str] = {}  # repo -> the token it needs
        self.drop_once: set[str] = set()  # paths whose first GET stops halfway
        self.stall: dict[str, int] = {}  # path -> times left to stall after half the bytes
        self.fail_500: set[str] = set()  # paths answering 500
        self.corrupt: set[str] = set()  # paths served with one byte flipped
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self.authorization: list[tuple[str, str]] = []  # (path, Authorization header) of every request
        self.redirect_host: str | None = None  # large files' Location on another server ("http://host:port")
        self.extra: dict[str, bytes] = {}  # path -> bytes sent after the file's own (more than announced)
        self.endless: set[str] = set()  # paths whose body never ends (no Content-Length)
        self.drip: set[str] = set()  # paths sent one byte every 0.5 s
        self.range_from_zero: set[str] = set()  # paths answering a Range request with 206 from byte 0
        self.cut_close: set[str] = set()  # paths sent without Content-Length, closed halfway
        self.stall_seconds = 3.0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                owner._handle(self, head=True)

            def do_GET(self):
                owner._handle(self, head=False)

        class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Threaded(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_repo_folder(self, repo: str, folder: pathlib.Path):
        self.repos[repo] = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    # -- serving ------------------------------------------------------------------------------------
    def _lookup(self, path: str):
        """(bytes, headers for HEAD, status) of a path, or None."""
        if path.startswith("/fair-esm/"):
            data = self.fair_esm.get(path[len("/fair-esm/"):])
            return (data, {}, 200) if data is not None else None
        if path.startswith("/cdn/"):
            sha = path[len("/cdn/"):]
            for files in self.repos.values():
                for data in files.values():
                    if hashlib.sha256(data).hexdigest() == sha:
                        return data, {}, 200
            return None
        parts = path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        repo, file = "/".join(parts[:2]), "/".join(parts[4:])
        data = self.repos.get(repo, {}).get(file)
        if data is None:
            return None
        sha = hashlib.sha256(data).hexdigest()
        if file.endswith((".safetensors", ".bin", ".pth")):  # LFS: checksum in X-Linked-Etag, bytes on the CDN
            headers = {"X-Repo-Commit": COMMIT, "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                       "ETag": '"lfs-pointer"', "Location": f"{self.redirect_host or ''}/cdn/{sha}"}
            return data, headers, 302
        return data, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}, 200

    def _handle(self, h, head: bool):
        path = h.path
        self.requests.append(("HEAD" if head else "GET", path, h.headers.get("Range", "")))
        self.authorization.append((path, h.headers.get("Authorization", "")))
        repo = "/".join(path.lstrip("/").split("/")[:2])
        if repo in self.gated and h.headers.get("Authorization") != f"Bearer {self.gated[repo]}":
            return self._status(h, 401)
        if path in self.fail_500:
            return self._status(h, 500)
        found = self._lookup(path)
        if found is None:
            return self._status(h, 404)
        data, headers, status = found
        if head:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            return
        if status == 302:
            h.send_response(302)
            h.send_header("Location", headers["Location"])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if path in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if self._misbehave(h, path, data):
            return
        start = 0
        rng = h.headers.get("Range", "")
        if rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                return self._status(h, 416)
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        half = len(body) // 2
        if path in self.drop_once and start == 0:
            self.drop_once.discard(path)
            h.wfile.write(body[:half])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if self.stall.get(path, 0) > 0:
            self.stall[path] -= 1
            h.wfile.write(body[:half])
            h.wfile.flush()
            time.sleep(self.stall_seconds)
            h.close_connection = True
            return
        h.wfile.write(body)

    def _misbehave(self, h, path: str, data: bytes) -> bool:
        """The broken answers of hostile or faulty servers; True when one was sent."""
        rng = h.headers.get("Range", "")
        if path in self.range_from_zero and rng:
            h.send_response(206)
            h.send_header("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return True
        if path in self.extra:
            h.send_response(200)
            h.send_header("Content-Length", str(len(data) + len(self.extra[path])))
            h.end_headers()
            h.wfile.write(data + self.extra[path])
            return True
        if path in self.endless or path in self.cut_close or path in self.drip:
            h.send_response(200)
            h.send_header("Connection", "close")
            if path in self.drip:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.close_connection = True
            try:
                if path in self.cut_close:
                    h.wfile.write(data[: len(data) // 2])
                elif path in self.drip:
                    for k in range(min(len(data), 40)):  # bounded: 20 s at most
                        h.wfile.write(data[k:k + 1])
                        h.wfile.flush()
                        time.sleep(0.5)
                else:
                    chunk = b"\0" * (1 << 16)
                    for _ in range(4096):  # bounded: 256 MB at most
                        h.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return True
        return False

    @staticmethod
    def _status(h, code: int):
        h.send_response(code)
        h.send_header("Content-Length", "0")
        h.end_headers()
