"""A real OTLP/HTTP trace receiver for the integration tests.

    python otlp_receiver.py PORT OUT_FILE

Serves 127.0.0.1:PORT. `POST /v1/traces` takes an `ExportTraceServiceRequest`
(`application/x-protobuf`, or OTLP/JSON as `application/json`; the body may be
`Content-Encoding: gzip`), decoded with the official definitions of the
`opentelemetry-proto` package, and appends one JSON line per span to OUT_FILE
(flushed before the answer): trace_id, span_id, parent_span_id (lowercase hex, ''
when empty), name, kind and status_code (enum names), status_message, attributes
(key -> plain JSON value), service_name (resource attribute `service.name`),
resource (all resource attributes), scope (instrumentation scope name),
start_time_unix_nano, end_time_unix_nano and events ([{name, attributes}]).
Answers 200 with an empty `ExportTraceServiceResponse`; 400 for a body that does
not decode, 415 for another content type, 404 for any other path. Prints
`listening` on stdout once bound; request logs go to stderr.
"""

import base64
import gzip
import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

OUT_LOCK = threading.Lock()


def any_value(v):
    """An `AnyValue` as a plain JSON value."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def span_record(span, resource_attrs, scope_name):
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "name": span.name,
        "kind": Span.SpanKind.Name(span.kind),
        "attributes": attributes(span.attributes),
        "status_code": Status.StatusCode.Name(span.status.code),
        "status_message": span.status.message,
        "service_name": resource_attrs.get("service.name", ""),
        "resource": resource_attrs,
        "scope": scope_name,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "events": [
            {"name": e.name, "attributes": attributes(e.attributes)}
            for e in span.events
        ],
    }


def records(request):
    out = []
    for rs in request.resource_spans:
        resource_attrs = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                out.append(span_record(span, resource_attrs, ss.scope.name))
    return out


# OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping of
# `bytes` expects base64: convert them before json_format parses the rest.
HEX_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def hex_ids_to_base64(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in HEX_ID_KEYS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_ids_to_base64(v)
    elif isinstance(node, list):
        for x in node:
            hex_ids_to_base64(x)
    return node


def decode(content_type, body):
    request = ExportTraceServiceRequest()
    if content_type == "application/x-protobuf":
        request.ParseFromString(body)
    elif content_type == "application/json":
        json_format.ParseDict(
            hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True
        )
    else:
        return None
    return request


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    out_file = None

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.read_body()
        if self.path.split("?", 1)[0] != "/v1/traces":
            return self.answer(404, "text/plain", b"not found\n")
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        try:
            encoding = self.headers.get("Content-Encoding", "").strip().lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding not in ("", "identity"):
                return self.answer(415, "text/plain", b"unsupported content-encoding\n")
            request = decode(content_type, body)
        except Exception as e:  # a body that does not decode is the sender's error
            return self.answer(400, "text/plain", f"bad request: {e}\n".encode())
        if request is None:
            return self.answer(415, "text/plain", b"unsupported content-type\n")
        lines = "".join(json.dumps(r) + "\n" for r in records(request))
        with OUT_LOCK:
            with open(self.out_file, "a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()
        if content_type == "application/json":
            return self.answer(200, "application/json", b"{}")
        return self.answer(
            200, "application/x-protobuf", ExportTraceServiceResponse().SerializeToString()
        )

    def do_GET(self):
        self.read_body()
        self.answer(404, "text/plain", b"not found\n")

    do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format, *args):
        sys.stderr.write("otlp_receiver: " + (format % args) + "\n")
        sys.stderr.flush()


def main():
    port, out_file = int(sys.argv[1]), sys.argv[2]
    Handler.out_file = out_file
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
