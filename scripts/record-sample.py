#!/usr/bin/env python3
"""Records real HTTP/1.1 traffic as Olly records, for samples and test fixtures.

A real client (curl) talks to a real server (python3 -m http.server) through a
transparent TCP relay on loopback; the relay writes what the client sent (dir "out") and
received (dir "in") as `data` records, with `proc` and `conn` records for the client, in
the record contract of man/olly-records.7 — what olly-capture reports for curl.

    scripts/record-sample.py > samples/http-keepalive.ndjson
"""
import base64, json, os, shutil, socket, subprocess, sys, tempfile, threading, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def main():
    root = tempfile.mkdtemp(prefix="olly-sample-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>olly</title><p>hello from the sample server</p>\n")
    with open(os.path.join(root, "data.json"), "w") as f:
        json.dump({"items": list(range(200))}, f)
    sport, rport = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(sport), "--bind", "127.0.0.1",
                               "--protocol", "HTTP/1.1"], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records, lock = [], threading.Lock()
    try:
        wait_port(sport)
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", rport))
        lsock.listen(1)
        state = {"conns": []}
        lsock.settimeout(0.2)

        def relay_one(c, caddr, cid):
            s = socket.create_connection(("127.0.0.1", sport))
            offs = {"out": 0, "in": 0}

            def pump(src, dst, direction):
                while True:
                    try:
                        b = src.recv(65536)
                    except OSError:
                        b = b""
                    if not b:
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        return
                    with lock:
                        records.append({"kind": "data", "ts": time.time_ns(), "cid": cid, "pid": state["pid"],
                                        "tid": state["pid"], "dir": direction, "off": offs[direction],
                                        "len": len(b), "data": base64.b64encode(b).decode()})
                        offs[direction] += len(b)
                    dst.sendall(b)

            t1 = threading.Thread(target=pump, args=(c, s, "out"))
            t2 = threading.Thread(target=pump, args=(s, c, "in"))
            t1.start(); t2.start(); t1.join(); t2.join()
            c.close(); s.close()
            with lock:
                state["conns"][cid - 1]["close"] = time.time_ns()

        def acceptor():
            threads = []
            while not state.get("stop"):
                try:
                    c, caddr = lsock.accept()
                except socket.timeout:
                    continue
                with lock:
                    state["conns"].append({"addr": caddr, "open": time.time_ns()})
                    cid = len(state["conns"])
                t = threading.Thread(target=relay_one, args=(c, caddr, cid))
                t.start()
                threads.append(t)
            for t in threads:
                t.join(timeout=10)

        base = f"http://127.0.0.1:{rport}"
        argv = ["curl", "-s", "-o", "/dev/null", f"{base}/index.html", "-o", "/dev/null", f"{base}/data.json",
                "-o", "/dev/null", f"{base}/missing"]
        curl = subprocess.Popen(argv)
        state["pid"] = curl.pid
        proc_ts = time.time_ns()
        t = threading.Thread(target=acceptor)
        t.start()
        curl.wait(timeout=30)
        state["stop"] = True
        t.join(timeout=30)
        out = [{"kind": "proc", "ts": proc_ts, "pid": curl.pid, "ppid": os.getpid(), "comm": "curl",
                "exe": shutil.which("curl"), "cmdline": argv}]
        events = list(records)
        for i, c in enumerate(state["conns"]):
            common = {"cid": i + 1, "pid": curl.pid, "tid": curl.pid, "fd": 5, "role": "client", "family": "inet",
                      "laddr": f"{c['addr'][0]}:{c['addr'][1]}", "raddr": f"127.0.0.1:{rport}"}
            events.append({"kind": "conn", "ev": "open", "ts": c["open"], **common})
            events.append({"kind": "conn", "ev": "close", "ts": c.get("close", time.time_ns()), **common})
        events.sort(key=lambda r: (r["ts"], r["kind"] == "conn" and r["ev"] == "close"))
        # Key order as the record contract gives it.
        def canon(r):
            keys = ["kind", "ev", "ts", "cid", "pid", "tid", "fd", "role", "family", "laddr", "raddr",
                    "dir", "off", "len", "data"]
            return {k: r[k] for k in keys if k in r}
        out += [canon(r) for r in events]
        for r in out:
            sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
