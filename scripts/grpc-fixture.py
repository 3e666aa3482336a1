#!/usr/bin/env python3
"""A tiny gRPC server and client (Python grpcio, insecure h2c) for the gRPC reassembly
fixture (scripts/record-fixtures.py grpc). Messages are raw bytes (no protobuf code is
generated): gRPC frames them all the same.

    grpc-fixture.py server          prints its port, serves until stdin closes
    grpc-fixture.py client PORT OUT makes the calls below, writes what it called and got to OUT (JSON)

Service olly.test.Greeter:
    SayHello  unary             b"hello " + request
    Count     server streaming  request b"N": N responses b"1" .. b"N"
    Sum       client streaming  the sum of the requests (decimal)
    Chat      bidi streaming    b"echo:" + each request
    Fail      unary             status NOT_FOUND, message "no such greeting"
    Slow      server streaming  one response, then waits (the client cancels: RST_STREAM)
An unknown method answers UNIMPLEMENTED (a Trailers-Only response).
"""
import json, sys, threading, time
from concurrent import futures

import grpc

SERVICE = "olly.test.Greeter"


def serve():
    stop = threading.Event()

    def say_hello(req, ctx):
        return b"hello " + req

    def count(req, ctx):
        for i in range(1, int(req) + 1):
            yield str(i).encode()

    def sum_(reqs, ctx):
        return str(sum(int(r) for r in reqs)).encode()

    def chat(reqs, ctx):
        for r in reqs:
            yield b"echo:" + r

    def fail(req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such greeting")

    def slow(req, ctx):
        yield b"first"
        stop.wait(5)

    h = grpc.method_handlers_generic_handler(SERVICE, {
        "SayHello": grpc.unary_unary_rpc_method_handler(say_hello),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Sum": grpc.stream_unary_rpc_method_handler(sum_),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_stream_rpc_method_handler(slow),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((h,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    stop.set()
    server.stop(0)


def client(port, out):
    calls = []
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(ch).result(timeout=10)

    def method(name):
        return f"/{SERVICE}/{name}"

    def record(name, kind, status, requests, responses, details=None):
        calls.append({"method": name, "kind": kind, "status": status.value[0], "details": details,
                      "requests": requests, "responses": responses})

    time.sleep(0.1)
    r = ch.unary_unary(method("SayHello"))(b"ada")
    record("SayHello", "unary", grpc.StatusCode.OK, [b"ada"], [r])
    time.sleep(0.1)
    rs = list(ch.unary_stream(method("Count"))(b"5"))
    record("Count", "server_streaming", grpc.StatusCode.OK, [b"5"], rs)
    time.sleep(0.1)
    reqs = [b"1", b"2", b"3", b"4"]
    r = ch.stream_unary(method("Sum"))(iter(reqs))
    record("Sum", "client_streaming", grpc.StatusCode.OK, reqs, [r])
    time.sleep(0.1)
    reqs = [b"a", b"bb", b"ccc"]
    rs = list(ch.stream_stream(method("Chat"))(iter(reqs)))
    record("Chat", "bidi_streaming", grpc.StatusCode.OK, reqs, rs)
    time.sleep(0.1)
    try:
        ch.unary_unary(method("Fail"))(b"x")
    except grpc.RpcError as e:
        record("Fail", "unary", e.code(), [b"x"], [], e.details())
    time.sleep(0.1)
    # gzip: the messages' compressed flag is set.
    r = ch.unary_unary(method("SayHello"))(b"grace" * 20, compression=grpc.Compression.Gzip)
    record("SayHello", "unary", grpc.StatusCode.OK, [b"grace" * 20], [r])
    time.sleep(0.1)
    try:
        ch.unary_unary(method("Nope"))(b"?")
    except grpc.RpcError as e:
        record("Nope", "unary", e.code(), [b"?"], [], e.details())
    time.sleep(0.1)
    it = ch.unary_stream(method("Slow"))(b"go")
    first = next(it)
    it.cancel()
    record("Slow", "server_streaming", grpc.StatusCode.CANCELLED, [b"go"], [first])
    time.sleep(0.3)
    ch.close()
    with open(out, "w") as f:
        json.dump([dict(c, requests=[x.decode() for x in c["requests"]], responses=[x.decode() for x in c["responses"]])
                   for c in calls], f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        serve()
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 4:
        client(int(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(__doc__)
