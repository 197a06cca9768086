#!/usr/bin/env python3
"""An InfluxDB v2 write API endpoint for hvtax's tests: /api/v2/write?org=&bucket=&precision=ns
with `Authorization: Token TOKEN`, bodies parsed by PyPI's line-protocol-parser (a real line
protocol parser, independent of hvtax). Binds port 0 on loopback, prints `listening PORT`, answers
REQUESTS writes (204, or 401 for a wrong token, 400 for a line the parser rejects) and prints one
JSON object per request: {"query": {...}, "authorization": "...", "points": [...], "error": ...}.

    influx_v2_receiver.py TOKEN REQUESTS
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

from line_protocol_parser import LineFormatError, parse_line

TOKEN, REQUESTS = sys.argv[1], int(sys.argv[2])
results = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        record = {"path": url.path, "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                  "authorization": self.headers.get("Authorization"), "points": [], "error": None}
        status = 204
        if url.path != "/api/v2/write":
            status, record["error"] = 404, "not the v2 write path"
        elif record["authorization"] != "Token " + TOKEN:
            status, record["error"] = 401, "unauthorized"
        else:
            for number, line in enumerate(body.splitlines(), 1):
                try:
                    record["points"].append(parse_line(line))
                except LineFormatError as error:
                    status, record["error"] = 400, f"line {number}: {error}: {line}"
                    break
        results.append(record)
        self.send_response(status)
        if status != 204:
            message = json.dumps({"code": "invalid" if status == 400 else "unauthorized", "message": record["error"]}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
        else:
            self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
for _ in range(REQUESTS):
    server.handle_request()
for record in results:
    print(json.dumps(record), flush=True)
