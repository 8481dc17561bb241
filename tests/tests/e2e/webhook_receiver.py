"""A webhook receiver for ztp's end-to-end tests: HTTPS on 127.0.0.1, one JSON line per request.

usage: webhook_receiver.py DIR PORT
DIR holds cert.pem and key.pem (the server's), and gets received.jsonl (each request: path,
headers with lowercase names, body) and port (the port listened on, once ready). If DIR/statuses
exists, each request answers with its first line (removed from the file); otherwise 204.
"""

import http.server
import json
import os
import ssl
import sys
import threading

DIR = sys.argv[1]
PORT = int(sys.argv[2])
LOCK = threading.Lock()


def next_status():
    path = os.path.join(DIR, "statuses")
    with LOCK:
        if not os.path.exists(path):
            return 204
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
        if not lines:
            return 204
        with open(path, "w") as f:
            f.write("\n".join(lines[1:]) + "\n")
        return int(lines[0])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        status = next_status()
        record = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "answered": status,
        }
        with LOCK:
            with open(os.path.join(DIR, "received.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(os.path.join(DIR, "cert.pem"), os.path.join(DIR, "key.pem"))
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.replace(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
server.serve_forever()
