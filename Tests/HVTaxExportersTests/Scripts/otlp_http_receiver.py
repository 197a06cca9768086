#!/usr/bin/env python3
"""An OTLP/HTTP metrics receiver for hvtax's tests, built on the OTLP protobuf definitions (PyPI
opentelemetry-proto): POST /v1/metrics with an ExportMetricsServiceRequest (application/x-protobuf)
is decoded and answered with an ExportMetricsServiceResponse, as an OpenTelemetry Collector's
otlp receiver does. Binds port 0 on loopback, prints `listening PORT`, then one JSON object per
request: {"resource": {...}, "metrics": [{"name", "unit", "kind", "monotonic", "temporality",
"points": [{"attributes": {...}, "value": float}]}]}. Runs until terminated.
"""
import json
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)


def value_of(point):
    return point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)


def attributes(kvs):
    out = {}
    for kv in kvs:
        field = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, field) if field else None
    return out


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/metrics":
            self.send_response(404)
            self.end_headers()
            return
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        record = {"contentType": self.headers.get("Content-Type"), "resource": {}, "metrics": []}
        for resource_metrics in request.resource_metrics:
            record["resource"].update(attributes(resource_metrics.resource.attributes))
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    entry = {"name": metric.name, "unit": metric.unit, "kind": kind, "points": []}
                    if kind in ("gauge", "sum"):
                        data = getattr(metric, kind)
                        if kind == "sum":
                            entry["monotonic"] = data.is_monotonic
                            entry["temporality"] = data.aggregation_temporality
                        for point in data.data_points:
                            entry["points"].append({"attributes": attributes(point.attributes), "value": value_of(point)})
                    record["metrics"].append(entry)
        print(json.dumps(record), flush=True)
        response = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
