#!/usr/bin/env python3
"""Live capture scenarios for OllyCaptureTests: real servers and clients on loopback,
captured by olly-capture filtered to the processes started here (never the machine).

    live.py SCENARIO OLLY_CAPTURE BPF_OBJECT WORKDIR

Writes WORKDIR/capture.ndjson (olly-capture's output) and truth files the Swift test
compares with: WORKDIR/truth.json (pids, ports, sizes) and raw byte files."""
import json, os, signal, socket, ssl, subprocess, sys, threading, time

scenario, olly, bpf, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
truth = {}

def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p

def wait_port(port, host="127.0.0.1", family=socket.AF_INET):
    for _ in range(200):
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {host}:{port} did not start")

HTTP_SERVER = r'''
import http.server, socketserver, sys, ssl, socket
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = S((host, port), lambda *a: H(*a, directory=root))
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''

def capture(args, extra_env=None):
    out = open(os.path.join(work, "capture.ndjson"), "wb")
    r = subprocess.run([olly, "--bpf-object", bpf, "--stats-interval", "0"] + args, stdout=out,
                       stderr=open(os.path.join(work, "stderr.txt"), "wb"), timeout=120)
    truth["status"] = r.returncode

def http_files():
    root = os.path.join(work, "www")
    os.makedirs(root, exist_ok=True)
    big = os.urandom(1 << 20)
    open(os.path.join(root, "big.bin"), "wb").write(big)
    open(os.path.join(root, "small.txt"), "wb").write(b"hello, olly\n" * 10)
    return root

def start_http(host, port, root, tls=None):
    args = [sys.executable, "-c", HTTP_SERVER, host, str(port), root] + (list(tls) if tls else [])
    p = subprocess.Popen(args)
    return p

if scenario in ("http", "https", "ipv6"):
    root = http_files()
    host = "::1" if scenario == "ipv6" else "127.0.0.1"
    port = free_port(socket.AF_INET6 if scenario == "ipv6" else socket.AF_INET, host)
    tls = None
    if scenario == "https":
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert, "-days", "1"], check=True, capture_output=True)
        tls = (cert, key)
    srv = start_http(host, port, root, tls)
    fam = socket.AF_INET6 if scenario == "ipv6" else socket.AF_INET
    try:
        wait_port(port, host, fam)
        scheme = "https" if tls else "http"
        base = f"{scheme}://[::1]:{port}" if scenario == "ipv6" else f"{scheme}://127.0.0.1:{port}"
        curl = ["curl", "-sSk", "--http1.1", "-g",
                "-o", os.path.join(work, "r1"), base + "/small.txt",
                "-o", os.path.join(work, "r2"), base + "/small.txt",
                "-o", os.path.join(work, "r3"), base + "/big.bin"]
        # The largest budget: every call whole, so the 1 MiB body can be compared exactly.
        capture(["--budget", "262144", "--pid", str(srv.pid), "--"] + curl)
        truth.update(server=srv.pid, port=port, big=os.path.join(root, "big.bin"))
    finally:
        srv.kill(); srv.wait()

elif scenario == "python":
    # A client and a server of our own, exchanging known bytes with send/recv (the
    # server's accept is accept4 in CPython on Linux). The truth is what each side's
    # calls returned, written to files.
    script = os.path.join(work, "pair.py")
    open(script, "w").write(r'''
import os, socket, sys
work = sys.argv[1]
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
port = ls.getsockname()[1]
pid = os.fork()
if pid == 0:
    c, _ = ls.accept()
    got = b""
    while len(got) < 3 * 40000 + 5103:
        b = c.recv(65536)
        if not b: break
        got += b
    open(os.path.join(work, "server_in"), "wb").write(got)
    reply = bytes(range(256)) * 300
    c.send(reply[:1000]); c.sendall(reply[1000:])
    open(os.path.join(work, "server_out"), "wb").write(reply)
    c.close(); os._exit(0)
ls.close()
s = socket.create_connection(("127.0.0.1", port))
sent = b""
for i in range(3):
    m = bytes([65 + i]) * 40000
    s.sendall(m); sent += m
# three buffers in one sendmsg: gathered into records of up to 4096 bytes
parts = [b"x" * 100, b"y" * 5000, b"z" * 3]
n = s.sendmsg(parts); sent += b"".join(parts)[:n]
open(os.path.join(work, "client_out"), "wb").write(sent)
got = b""
while True:
    b = s.recv(7000)
    if not b: break
    got += b
open(os.path.join(work, "client_in"), "wb").write(got)
s.close(); os.waitpid(pid, 0)
''')
    capture(["--", sys.executable, script, work])

elif scenario == "nginx":
    root = http_files()
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    open(conf, "w").write(f"""
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; sendfile on; tcp_nopush off;
  client_body_temp_path {work}/cb; proxy_temp_path {work}/px; fastcgi_temp_path {work}/fc;
  uwsgi_temp_path {work}/uw; scgi_temp_path {work}/sc;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}""")
    ng = subprocess.Popen(["nginx", "-c", conf, "-p", work])
    try:
        wait_port(port)
        curl = ["curl", "-sS", "--http1.1", "-o", os.path.join(work, "r3"), f"http://127.0.0.1:{port}/big.bin"]
        capture(["--budget", "262144", "--pid", str(ng.pid), "--"] + curl)
        truth.update(server=ng.pid, port=port, big=os.path.join(root, "big.bin"))
    finally:
        ng.send_signal(signal.SIGQUIT)
        try: ng.wait(10)
        except subprocess.TimeoutExpired: ng.kill(); ng.wait()

elif scenario in ("existing", "idle"):
    # A connection opened before capture starts, used again while it runs. "idle": it
    # stays unused longer than --idle-timeout first.
    ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
    port = ls.getsockname()[1]
    go = os.path.join(work, "go")
    srv_code = r'''
import os, socket, sys, time
fd = int(sys.argv[1]); go = sys.argv[2]
ls = socket.socket(fileno=fd)
c, _ = ls.accept()
c.recv(100)                        # "before", read before capture
while not os.path.exists(go): time.sleep(0.02)
m = c.recv(100)                    # "after", under capture
c.sendall(b"echo:" + m)
time.sleep(0.3)
'''
    srv = subprocess.Popen([sys.executable, "-c", srv_code, str(ls.fileno()), go], pass_fds=[ls.fileno()])
    cli_code = r'''
import os, socket, sys, time
port = int(sys.argv[1]); go = sys.argv[2]; work = sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"before")
while not os.path.exists(go): time.sleep(0.02)
time.sleep(0.2)
s.sendall(b"after")
open(os.path.join(work, "client_in"), "wb").write(s.recv(100))
'''
    cli = subprocess.Popen([sys.executable, "-c", cli_code, str(port), go, work])
    ls.close()
    time.sleep(0.5)
    out = open(os.path.join(work, "capture.ndjson"), "wb")
    idle = ["--idle-timeout", "1"] if scenario == "idle" else []
    cap = subprocess.Popen([olly, "--bpf-object", bpf, "--stats-interval", "0", "-u"] + idle +
                           ["--pid", str(srv.pid), "--pid", str(cli.pid)], stdout=out,
                           stderr=open(os.path.join(work, "stderr.txt"), "wb"))
    path = os.path.join(work, "capture.ndjson")
    for _ in range(200):   # the existing records come first, once the programs are attached
        if b'"existing"' in open(path, "rb").read(): break
        time.sleep(0.05)
    if idle: time.sleep(2.5)
    open(go, "w").close()
    cli.wait(10); srv.wait(10)
    time.sleep(0.2)
    cap.send_signal(signal.SIGINT)
    truth["status"] = cap.wait(30)
    truth.update(server=srv.pid, client=cli.pid, port=port)
elif scenario == "comm":
    # One tree, two names: a child renames itself (its comm) and talks to its parent.
    # --comm NAME with the command captures the renamed child only, not the parent.
    name = "ollyc%d" % (os.getpid() % 10000000)
    script = os.path.join(work, "comm.py")
    open(script, "w").write(r'''
import os, socket, sys
work, name = sys.argv[1], sys.argv[2]
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
port = ls.getsockname()[1]
pid = os.fork()
if pid == 0:
    open("/proc/self/comm", "w").write(name)
    s = socket.create_connection(("127.0.0.1", port))
    out = b"".join(b"request %d from the named child;" % i for i in range(3))
    s.sendall(out)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(4096)
        if not b: break
        got += b
    open(os.path.join(work, "child_out"), "wb").write(out)
    open(os.path.join(work, "child_in"), "wb").write(got)
    open(os.path.join(work, "child_pid"), "w").write(str(os.getpid()))
    s.close(); os._exit(0)
c, _ = ls.accept()
got = b""
while True:
    b = c.recv(4096)
    if not b: break
    got += b
c.sendall(b"parent saw %d bytes" % len(got))
c.close(); os.waitpid(pid, 0)
''')
    capture(["--comm", name, "--", sys.executable, script, work, name])
    truth.update(name=name, child=int(open(os.path.join(work, "child_pid")).read()))

elif scenario == "cgroup":
    # A client moved into a cgroup of its own talks to a server outside it; the capture
    # is filtered to that cgroup only (no pid filter).
    mount = next(l.split()[1] for l in open("/proc/self/mounts") if l.split()[2] == "cgroup2")
    rel = "olly-test-%d" % os.getpid()
    cg = os.path.join(mount, rel)
    os.mkdir(cg)
    go = os.path.join(work, "go")
    ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
    port = ls.getsockname()[1]
    srv_code = r'''
import socket, sys
ls = socket.socket(fileno=int(sys.argv[1]))
c, _ = ls.accept()
got = b""
while True:
    b = c.recv(4096)
    if not b: break
    got += b
c.sendall(b"server outside the cgroup got " + got)
c.close()
'''
    cli_code = r'''
import os, socket, sys, time
cg, port, go, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
open(os.path.join(cg, "cgroup.procs"), "w").write(str(os.getpid()))
open(os.path.join(work, "moved"), "w").close()
while not os.path.exists(go): time.sleep(0.02)
s = socket.create_connection(("127.0.0.1", port))
out = b"hello from inside the cgroup" * 20
s.sendall(out); s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(4096)
    if not b: break
    got += b
open(os.path.join(work, "client_out"), "wb").write(out)
open(os.path.join(work, "client_in"), "wb").write(got)
'''
    srv = subprocess.Popen([sys.executable, "-c", srv_code, str(ls.fileno())], pass_fds=[ls.fileno()])
    cli = subprocess.Popen([sys.executable, "-c", cli_code, cg, str(port), go, work])
    ls.close()
    try:
        for _ in range(200):
            if os.path.exists(os.path.join(work, "moved")): break
            time.sleep(0.02)
        path = os.path.join(work, "capture.ndjson")
        cap = subprocess.Popen([olly, "--bpf-object", bpf, "--stats-interval", "0", "-u", "--cgroup", rel],
                               stdout=open(path, "wb"), stderr=open(os.path.join(work, "stderr.txt"), "wb"))
        want = b'"pid":%d' % cli.pid
        for _ in range(300):  # the client's proc record comes once the programs are attached
            if want in open(path, "rb").read(): break
            time.sleep(0.05)
        open(go, "w").close()
        cli.wait(20); srv.wait(20)
        time.sleep(0.2)
        cap.send_signal(signal.SIGINT)
        truth["status"] = cap.wait(30)
        truth.update(client=cli.pid, server=srv.pid, cgroup=rel)
    finally:
        for p in (cli, srv):
            if p.poll() is None: p.kill(); p.wait()
        os.rmdir(cg)

elif scenario == "port":
    # One client, two servers on two ports; --port captures only the first port's
    # connection (both of its ends), nothing of the other.
    script = os.path.join(work, "ports.py")
    open(script, "w").write(r'''
import os, socket, sys, json
work = sys.argv[1]
l1 = socket.socket(); l1.bind(("127.0.0.1", int(sys.argv[2]))); l1.listen(1)
l2 = socket.socket(); l2.bind(("127.0.0.1", int(sys.argv[3]))); l2.listen(1)
pid = os.fork()
if pid == 0:
    for ls, tag in ((l1, b"one"), (l2, b"two")):
        c, _ = ls.accept()
        got = c.recv(65536)
        c.sendall(b"reply on port " + tag + b" to " + got)
        c.close()
    os._exit(0)
l1.close(); l2.close()
res = {}
for port, tag in ((sys.argv[2], "one"), (sys.argv[3], "two")):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(b"request for port " + tag.encode())
    got = b""
    while True:
        b = s.recv(4096)
        if not b: break
        got += b
    open(os.path.join(work, "in_" + tag), "wb").write(got)
    s.close()
os.waitpid(pid, 0)
''')
    p1, p2 = free_port(), free_port()
    while p2 == p1: p2 = free_port()
    capture(["--port", str(p1), "--", sys.executable, script, work, str(p1), str(p2)])
    truth.update(port1=p1, port2=p2)

elif scenario in ("unix", "nounix"):
    # AF_UNIX stream sockets: captured with --unix, absent without it.
    script = os.path.join(work, "unix.py")
    open(script, "w").write(r'''
import os, socket, sys
work = sys.argv[1]
path = os.path.join(work, "sock")
ls = socket.socket(socket.AF_UNIX); ls.bind(path); ls.listen(1)
pid = os.fork()
if pid == 0:
    c, _ = ls.accept()
    got = b""
    while True:
        b = c.recv(65536)
        if not b: break
        got += b
    reply = b"unix reply " * 500
    c.sendall(reply)
    open(os.path.join(work, "server_in"), "wb").write(got)
    open(os.path.join(work, "server_out"), "wb").write(reply)
    c.close(); os._exit(0)
ls.close()
s = socket.socket(socket.AF_UNIX); s.connect(path)
out = bytes(range(256)) * 40
s.sendall(out); s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(3000)
    if not b: break
    got += b
open(os.path.join(work, "client_out"), "wb").write(out)
open(os.path.join(work, "client_in"), "wb").write(got)
s.close(); os.waitpid(pid, 0)
''')
    capture((["--unix"] if scenario == "unix" else []) + ["--", sys.executable, script, work])

else:
    raise SystemExit("unknown scenario " + scenario)

json.dump(truth, open(os.path.join(work, "truth.json"), "w"))
