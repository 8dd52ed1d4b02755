#!/usr/bin/env python3
"""Webhook endpoints for beacon's webhook tests: one HTTP(S) server whose paths behave as the
faults of docs/outbound.md's table, and that records every request it gets.

Usage: webhook_endpoint.py [--tls CERT KEY]
Prints "listening <port>" once it listens on 127.0.0.1 (a port of its own), then serves until its
standard input closes. Each POST is recorded; GET /log answers the records as a JSON array of
{"path", "id", "timestamp", "signature", "body", "at"} ("at": seconds, time.monotonic()).

POST paths (<key> makes each test's paths its own):
  /ok/<key>              204
  /fail/<n>/<key>        500 for the first n requests to the path, then 200
  /gone/<key>            410
  /busy/<key>            429 with Retry-After: 1 the first time, then 204
  /unavailable/<key>     503 with Retry-After: 1 the first time, then 204
  /hang/<key>            answers nothing for 5 s (the sender's timeout is shorter)
  /reset/<key>           closes the connection without answering, with a TCP reset
  /redirect/<key>        302 to http://10.0.0.1/<key> (a private address)
"""
import http.server
import json
import socket
import ssl
import struct
import sys
import threading
import time

records = []
seen = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the test reads the records, not a log
        pass

    def answer(self, status, headers=(), body=b""):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(records).encode()
        self.answer(200, [("Content-Type", "application/json")], body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        with lock:
            records.append({"path": self.path, "id": self.headers.get("webhook-id"),
                            "timestamp": self.headers.get("webhook-timestamp"),
                            "signature": self.headers.get("webhook-signature"),
                            "content_type": self.headers.get("Content-Type"),
                            "body": body, "at": time.monotonic()})
            seen[self.path] = seen.get(self.path, 0) + 1
            count = seen[self.path]
        parts = self.path.strip("/").split("/")
        kind = parts[0]
        if kind == "ok":
            self.answer(204)
        elif kind == "fail":
            self.answer(500 if count <= int(parts[1]) else 200, body=b"{}")
        elif kind == "gone":
            self.answer(410)
        elif kind in ("busy", "unavailable"):
            if count == 1:
                self.answer(429 if kind == "busy" else 503, [("Retry-After", "1")])
            else:
                self.answer(204)
        elif kind == "hang":
            time.sleep(5)
            self.close_connection = True
        elif kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif kind == "redirect":
            self.answer(302, [("Location", "http://10.0.0.1/" + parts[-1])])
        else:
            self.answer(404)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("listening", server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes our standard input
    server.shutdown()


if __name__ == "__main__":
    main()
