#!/usr/bin/env python3
"""Loopback HTTP and HTTPS server for the fetch unit tests (test_oidc.c).

Prints "PORTS <https> <http>" once listening, then serves until killed.
Routes: /ok, /big?n=N (Content-Length), /stream?n=N (chunked, no length),
/redirect (302 to /ok), /slow (answers after 3 s), /post (echoes the body),
/retry (503 with Retry-After).

A fake OpenID Provider for the oidc tests lives under /idp/: GET or POST
/idp/NAME answers with the file NAME of FETCH_SERVER_ROOT (404 when absent),
its status from NAME.status and its content type from NAME.ctype when those
files exist; a POST also records its body in NAME.req, and every
request's Authorization header goes to NAME.auth. /idp/.well-known/openid-configuration is
the file "discovery".
"""
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("FETCH_SERVER_ROOT", HERE)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json; charset=UTF-8", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        n = int(q.get("n", ["0"])[0])
        if u.path == "/ok":
            self.send(200, b'{"ok":true}')
        elif u.path == "/big":
            self.send(200, b"x" * n, "text/plain")
        elif u.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 4096
            sent = 0
            try:
                while sent < n:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif u.path == "/redirect":
            self.send(302, b"", "text/plain", {"Location": "/ok"})
        elif u.path == "/slow":
            time.sleep(3)
            self.send(200, b"late", "text/plain")
        elif u.path == "/hangup":
            # Answered as keep-alive, then closed: a peer dropping an idle
            # pooled connection.
            self.send(200, b'{"ok":true}')
            self.close_connection = True
        elif u.path == "/retry":
            self.send(503, b"down", "text/plain", {"Retry-After": "7"})
        elif u.path.startswith("/idp/"):
            self.idp(u.path, None)
        else:
            self.send(404, b"{}")

    def idp(self, path, body):
        name = path[len("/idp/"):]
        if name == ".well-known/openid-configuration":
            name = "discovery"
        name = os.path.basename(name)
        base = os.path.join(ROOT, name)

        def read(suffix, default):
            try:
                with open(base + suffix, "rb") as f:
                    return f.read()
            except OSError:
                return default

        if body is not None:
            with open(base + ".req", "wb") as f:
                f.write(body)
        with open(base + ".auth", "wb") as f:
            f.write(self.headers.get("Authorization", "").encode())
        content = read("", None)
        if content is None:
            self.send(404, b"{}")
            return
        status = int(read(".status", b"200").strip())
        ctype = read(".ctype", b"application/json").decode().strip()
        self.send(status, content, ctype)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        path = urlparse(self.path).path
        if path == "/post":
            self.send(200, body, self.headers.get("Content-Type", "text/plain"))
        elif path.startswith("/idp/"):
            self.idp(path, body)
        else:
            self.send(404, b"{}")


def main():
    cert, key = sys.argv[1], sys.argv[2]
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    for s in (tls, plain):
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("PORTS %d %d" % (tls.server_address[1], plain.server_address[1]), flush=True)
    # The test holds our stdin open: end of file means it is gone (even
    # when it aborted), so no server outlives its test.
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    main()
