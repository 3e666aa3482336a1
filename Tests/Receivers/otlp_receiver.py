#!/usr/bin/env python3
"""An OTLP receiver for Olly's tests: OTLP/gRPC and OTLP/HTTP (protobuf and JSON, gzip),
decoding with the official opentelemetry-proto classes. Every request it accepts is
appended to --out as one JSON line: {"transport", "signal", "encoding", "gzip",
"headers", "items", "request"} where "request" is the decoded message as proto3 JSON
with trace and span IDs in hex (as OTLP JSON has them).

--mode ok            accept everything
--mode fail400       answer HTTP 400 / gRPC INVALID_ARGUMENT with a google.rpc.Status message
--mode unavailable:N answer 503 / UNAVAILABLE to the first N requests (with Retry-After: 1 /
                     RetryInfo 1s), then accept
--mode partial       accept, but report one rejected item per request (partial success)
--mode slow:N:S      accept (and record) the first N requests, but answer them only after S
                     seconds, so that a client with a shorter timeout sends them again: the
                     duplicates that at-least-once delivery allows
--count-only         do not write requests, only count items (for benchmarks); the counts are
                     written to --out at exit (SIGTERM) and on every 1000th request
--tls-cert F --tls-key K   serve gRPC and HTTP over TLS with this certificate and key (PEM)
Ports 0 pick free ports; the chosen ports are written to --ready as JSON once listening.
"""
import argparse, base64, gzip, json, os, signal, ssl, sys, threading, time
from concurrent import futures
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tsp, trace_service_pb2_grpc as tsg
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as lsp, logs_service_pb2_grpc as lsg
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as msp, metrics_service_pb2_grpc as msg

SIGNALS = {
    "traces": (tsp.ExportTraceServiceRequest, tsp.ExportTraceServiceResponse, "rejected_spans"),
    "logs": (lsp.ExportLogsServiceRequest, lsp.ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (msp.ExportMetricsServiceRequest, msp.ExportMetricsServiceResponse, "rejected_data_points"),
}
ID_KEYS = ("traceId", "spanId", "parentSpanId")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    if wire == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def rpc_status(code, message, retry_seconds=None):
    """google.rpc.Status (code, message, details[RetryInfo]) encoded by hand."""
    out = field(1, 0, code) + field(2, 2, message.encode())
    if retry_seconds is not None:
        duration = field(1, 0, retry_seconds)
        retry_info = field(1, 2, duration)
        any_ = field(1, 2, b"type.googleapis.com/google.rpc.RetryInfo") + field(2, 2, retry_info)
        out += field(3, 2, any_)
    return out


def count_items(signal, req):
    if signal == "traces":
        return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    if signal == "logs":
        return sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)
    n = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.gauge.data_points) + len(m.sum.data_points) + len(m.histogram.data_points)
    return n


def ids_to_hex(o):
    if isinstance(o, dict):
        return {k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else ids_to_hex(v)) for k, v in o.items()}
    if isinstance(o, list):
        return [ids_to_hex(x) for x in o]
    return o


def ids_to_base64(o):
    if isinstance(o, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ID_KEYS and isinstance(v, str) else ids_to_base64(v)) for k, v in o.items()}
    if isinstance(o, list):
        return [ids_to_base64(x) for x in o]
    return o


class Receiver:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.items = {"traces": 0, "logs": 0, "metrics": 0}
        self.out = open(args.out, "a")
        mode = args.mode
        self.fail_first = int(mode.split(":")[1]) if mode.startswith("unavailable:") else 0
        self.slow_left, self.slow_seconds = 0, 0.0
        if mode.startswith("slow:"):
            _, n, secs = mode.split(":")
            self.slow_left, self.slow_seconds = int(n), float(secs)

    def decide(self):
        """None to accept; else (http_status, grpc_code, message, retry_seconds)."""
        with self.lock:
            self.requests += 1
            n = self.requests
        if self.args.mode == "fail400":
            return (400, grpc.StatusCode.INVALID_ARGUMENT, "test receiver refuses everything", None)
        if n <= self.fail_first:
            return (503, grpc.StatusCode.UNAVAILABLE, "test receiver unavailable", 1)
        return None

    def accept(self, transport, signal, encoding, gz, headers, req, path=None):
        items = count_items(signal, req)
        with self.lock:
            self.items[signal] += items
            if self.args.count_only:
                if self.requests % 1000 == 0:
                    self.write_counts()
                return items
            record = {"transport": transport, "signal": signal, "encoding": encoding, "gzip": gz,
                      "headers": headers, "items": items, "path": path,
                      "request": ids_to_hex(json_format.MessageToDict(req))}
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        return items

    def delay(self):
        """In slow mode, hold the answer to the first N accepted requests."""
        with self.lock:
            if self.slow_left <= 0:
                return
            self.slow_left -= 1
        time.sleep(self.slow_seconds)

    def write_counts(self):
        self.out.write(json.dumps({"counts": self.items, "requests": self.requests}) + "\n")
        self.out.flush()

    def response(self, signal, items):
        _, resp_cls, rejected_field = SIGNALS[signal]
        resp = resp_cls()
        if self.args.mode == "partial":
            setattr(resp.partial_success, rejected_field, 1)
            resp.partial_success.error_message = "one item rejected by the test receiver"
        return resp


def make_servicer(base, signal, rx):
    class Servicer(base):
        def Export(self, request, context):
            d = rx.decide()
            if d is not None:
                status, code, message, retry = d
                if retry is not None or code != grpc.StatusCode.UNAVAILABLE:
                    context.set_trailing_metadata([("grpc-status-details-bin", rpc_status(code.value[0], message, retry))])
                context.abort(code, message)
            md = {k: v for k, v in context.invocation_metadata() if not k.endswith("-bin")}
            gz = md.get("grpc-encoding") == "gzip"
            items = rx.accept("grpc", signal, "protobuf", gz, md, request)
            rx.delay()
            return rx.response(signal, items)
    return Servicer()


def make_handler(rx):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle(self):
            try:
                super().handle()
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                pass  # a client that refused our certificate, or went away

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            signal = self.path.rstrip("/").split("/")[-1]
            if signal not in SIGNALS:
                return self.reply(404, b"no such path", "text/plain")
            gz = self.headers.get("Content-Encoding") == "gzip"
            if gz:
                body = gzip.decompress(body)
            ctype = self.headers.get("Content-Type", "")
            encoding = "json" if ctype.startswith("application/json") else "protobuf"
            d = rx.decide()
            if d is not None:
                status, code, message, retry = d
                extra = {"Retry-After": str(retry)} if retry is not None else {}
                if encoding == "json":
                    return self.reply(status, json.dumps({"code": code.value[0], "message": message}).encode(), ctype, extra)
                return self.reply(status, rpc_status(code.value[0], message), "application/x-protobuf", extra)
            req_cls = SIGNALS[signal][0]
            req = req_cls()
            if encoding == "json":
                json_format.Parse(json.dumps(ids_to_base64(json.loads(body))), req)
            else:
                req.ParseFromString(body)
            headers = {k.lower(): v for k, v in self.headers.items()}
            items = rx.accept("http", signal, encoding, gz, headers, req, self.path)
            rx.delay()
            resp = rx.response(signal, items)
            if encoding == "json":
                self.reply(200, json_format.MessageToJson(resp).encode(), "application/json")
            else:
                self.reply(200, resp.SerializeToString(), "application/x-protobuf")

        def reply(self, status, body, ctype, extra=None):
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (slow mode)
    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc-port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--count-only", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    # A parent may have left every signal blocked (the mask survives exec): unblock the
    # ones that stop the receiver.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    rx = Receiver(args)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.so_reuseport", 0)])
    tsg.add_TraceServiceServicer_to_server(make_servicer(tsg.TraceServiceServicer, "traces", rx), server)
    lsg.add_LogsServiceServicer_to_server(make_servicer(lsg.LogsServiceServicer, "logs", rx), server)
    msg.add_MetricsServiceServicer_to_server(make_servicer(msg.MetricsServiceServicer, "metrics", rx), server)
    if args.tls_cert:
        with open(args.tls_cert, "rb") as f:
            cert = f.read()
        with open(args.tls_key, "rb") as f:
            key = f.read()
        grpc_port = server.add_secure_port("127.0.0.1:%d" % args.grpc_port, grpc.ssl_server_credentials([(key, cert)]))
    else:
        grpc_port = server.add_insecure_port("127.0.0.1:%d" % args.grpc_port)
    server.start()

    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer(("127.0.0.1", args.http_port), make_handler(rx))
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # The handshake happens in the handler's thread (not in accept), so a client that
        # refuses the certificate does not hold the server up.
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop(*_):
        with rx.lock:
            rx.write_counts()
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"grpc": grpc_port, "http": httpd.server_address[1], "pid": os.getpid()}, f)
    os.rename(tmp, args.ready)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
