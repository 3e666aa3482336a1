#!/usr/bin/env python3
"""Records real traffic of real clients and servers as Olly records, for the reassembly
golden tests (Tests/Fixtures/reassembly/NAME.ndjson).

Each server runs on loopback on a free high port with its own data directory and is
stopped by pid. The client talks to it through a relay on loopback that writes what the
client sent (dir "out") and received (dir "in") as `data` records, with `proc` and `conn`
records for the client: what olly-capture reports for the client process. UDP is relayed
datagram by datagram (one `data` record per datagram).

    scripts/record-fixtures.py http|redis|dns|postgres|mysql|mongo|http2|grpc|http2tls > Tests/Fixtures/reassembly/NAME.ndjson
    scripts/record-fixtures.sh      # all of them, then the expected exchanges

Needs (installed by scripts/setup.sh test): nginx, redis-server, dnsmasq, dig, PostgreSQL
15, MariaDB 10.11, curl, openssl, python3-mockupdb (run by /usr/bin/python3), nghttp2
1.52 (nghttpd, nghttp, h2load), and the Python packages redis, psycopg, pymysql,
mysql-connector-python, pymongo and grpcio.
"""
import base64, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def stop_stdin_server(server):
    """Stops a helper server that runs until its stdin closes (killed if it takes over 10 s)."""
    server.stdin.close()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


class Recorder:
    """A relay in front of a server that records the client side of every connection."""

    def __init__(self, server_port, udp=False):
        self.server_port = server_port
        self.udp = udp
        self.lock = threading.Lock()
        self.records = []
        self.conns = []
        self.procs = []
        self.pid = os.getpid()
        self.stop = False
        self.port = free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        self.threads = []
        t = threading.Thread(target=self.udp_loop if udp else self.accept_loop, daemon=True)
        t.start()
        self.main = t

    def client(self, argv=None, comm=None, env=None):
        """Declares who the next connections belong to: a command (run here) or this process."""
        if argv is None:
            with self.lock:
                self.pid = os.getpid()
                self.procs.append({"kind": "proc", "ts": time.time_ns(), "pid": self.pid, "ppid": os.getppid(),
                                   "comm": comm or "python3", "exe": sys.executable, "cmdline": [sys.executable] + sys.argv})
            return None
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
        with self.lock:
            self.pid = p.pid
            self.procs.append({"kind": "proc", "ts": time.time_ns(), "pid": p.pid, "ppid": os.getpid(),
                               "comm": os.path.basename(argv[0])[:15], "exe": shutil.which(argv[0]), "cmdline": argv})
        p.wait(timeout=60)
        return p

    def new_conn(self, caddr):
        with self.lock:
            cid = len(self.conns) + 1
            self.conns.append({"addr": caddr, "open": time.time_ns(), "pid": self.pid, "offs": {"out": 0, "in": 0}})
        return cid

    def record(self, cid, direction, b):
        with self.lock:
            c = self.conns[cid - 1]
            self.records.append({"kind": "data", "ts": time.time_ns(), "cid": cid, "pid": c["pid"], "tid": c["pid"],
                                 "dir": direction, "off": c["offs"][direction], "len": len(b),
                                 "data": base64.b64encode(b).decode()})
            c["offs"][direction] += len(b)

    def accept_loop(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        ls.settimeout(0.1)
        while not self.stop:
            try:
                c, caddr = ls.accept()
            except socket.timeout:
                continue
            cid = self.new_conn(caddr)
            t = threading.Thread(target=self.relay, args=(c, cid))
            t.start()
            self.threads.append(t)
        ls.close()

    def relay(self, c, cid):
        s = socket.create_connection(("127.0.0.1", self.server_port))

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
                self.record(cid, direction, b)
                try:
                    dst.sendall(b)
                except OSError:
                    return

        t1 = threading.Thread(target=pump, args=(c, s, "out"))
        t2 = threading.Thread(target=pump, args=(s, c, "in"))
        t1.start(); t2.start(); t1.join(); t2.join()
        c.close(); s.close()
        with self.lock:
            self.conns[cid - 1]["close"] = time.time_ns()

    def udp_loop(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ls.bind(("127.0.0.1", self.port))
        ls.settimeout(0.1)
        upstream = {}  # client addr -> (socket, cid)

        def back(us, caddr, cid):
            us.settimeout(0.2)
            while not self.stop:
                try:
                    b = us.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                self.record(cid, "in", b)
                ls.sendto(b, caddr)

        while not self.stop:
            try:
                b, caddr = ls.recvfrom(65536)
            except socket.timeout:
                continue
            if caddr not in upstream:
                us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                us.connect(("127.0.0.1", self.server_port))
                cid = self.new_conn(caddr)
                upstream[caddr] = (us, cid)
                t = threading.Thread(target=back, args=(us, caddr, cid), daemon=True)
                t.start()
            us, cid = upstream[caddr]
            self.record(cid, "out", b)
            us.send(b)
        for us, cid in upstream.values():
            with self.lock:
                self.conns[cid - 1]["close"] = time.time_ns()

    def finish(self):
        time.sleep(0.3)
        self.stop = True
        self.main.join(timeout=10)
        for t in self.threads:
            t.join(timeout=10)
        events = list(self.records)
        for i, c in enumerate(self.conns):
            common = {"cid": i + 1, "pid": c["pid"], "tid": c["pid"], "fd": 5, "role": "client", "family": "inet",
                      "laddr": f"{c['addr'][0]}:{c['addr'][1]}", "raddr": f"127.0.0.1:{self.port}"}
            events.append({"kind": "conn", "ev": "open", "ts": c["open"], **common})
            events.append({"kind": "conn", "ev": "close", "ts": c.get("close", time.time_ns()), **common})
        events.sort(key=lambda r: (r["ts"], r["kind"] == "conn" and r["ev"] == "close"))
        keys = ["kind", "ev", "ts", "cid", "pid", "tid", "fd", "role", "family", "laddr", "raddr",
                "dir", "off", "len", "data"]
        out = self.procs + [{k: r[k] for k in keys if k in r} for r in events]
        for r in out:
            sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")


def raw(port, payload, read_until_close=True, pause=0.3):
    """A plain socket client: sends `payload` (bytes or a list of bytes sent with pauses)
    and reads what comes back until the server closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(1.0)
    for part in payload if isinstance(payload, list) else [payload]:
        s.sendall(part)
        time.sleep(pause)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
            if not read_until_close:
                break
    except socket.timeout:
        pass
    s.close()
    return got


def http():
    root = tempfile.mkdtemp(prefix="olly-nginx-")
    os.chmod(root, 0o755)  # nginx workers run as an unprivileged user
    www = os.path.join(root, "www")
    os.makedirs(www)
    os.makedirs(os.path.join(root, "dav"))
    os.chmod(os.path.join(root, "dav"), 0o777)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("<!doctype html><title>olly</title><p>hello from nginx</p>\n")
    # A 1 MiB incompressible file: gzip sends it chunked (about 1 MiB of chunks).
    import random
    rnd = random.Random(7)
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(1 << 20)))
    port, wsport = free_port(), free_port()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port}; root {www}; keepalive_requests 1000;
    location /gz/ {{ alias {www}/; gzip on; gzip_min_length 1; gzip_http_version 1.0; gzip_types *; }}
    location = /nothing {{ return 204; }}
    location /dav/ {{ alias {root}/dav/; dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 8m; }}
    location /ws {{ proxy_pass http://127.0.0.1:{wsport}; proxy_http_version 1.1;
                   proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; }}
  }}
}}
""")
    # A tiny upgrade backend: answers 101 and echoes what follows.
    ws = socket.socket()
    ws.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ws.bind(("127.0.0.1", wsport))
    ws.listen(4)

    def ws_serve():
        c, _ = ws.accept()
        req = b""
        while b"\r\n\r\n" not in req:
            req += c.recv(4096)
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        while True:
            b = c.recv(4096)
            if not b:
                break
            c.sendall(b"echo:" + b)
        c.close()

    threading.Thread(target=ws_serve, daemon=True).start()
    server = subprocess.Popen(["nginx", "-c", conf, "-p", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        rec = Recorder(port)
        base = f"http://127.0.0.1:{rec.port}"
        # 1: keep-alive: GET, HEAD, 304, 204, 404, gzip chunked 1 MiB, PUT with 100-continue.
        body = os.path.join(root, "upload.bin")
        with open(body, "wb") as f:
            f.write(b"x" * 65536 + b"end")
        rec.client(["curl", "-s", "-o", "/dev/null", f"{base}/index.html",
                    "--next", "-s", "-o", "/dev/null", "-I", f"{base}/index.html"])
        rec.client(["curl", "-s", "-o", "/dev/null", f"{base}/index.html", "-H", "If-None-Match: *",
                    "-o", "/dev/null", f"{base}/nothing", "-o", "/dev/null", f"{base}/missing"])
        rec.client(["curl", "-s", "-o", "/dev/null", "--compressed", f"{base}/gz/big.bin"])
        rec.client(["curl", "-s", "-o", "/dev/null", "-H", "Expect: 100-continue", "-T", body, f"{base}/dav/up.bin"])
        # 2: pipelining: three requests in one write.
        rec.client(comm="python3")
        raw(rec.port, b"".join(f"GET /{p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in ["index.html", "missing", "index.html"]))
        # 3: HTTP/1.0 with gzip: the body is delimited by the close.
        raw(rec.port, b"GET /gz/index.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        # 4: Upgrade: 101, then opaque bytes both ways.
        raw(rec.port, [b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n", b"ping one", b"ping two"],
            read_until_close=True, pause=0.2)
        rec.finish()
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait(timeout=10)
        ws.close()
        shutil.rmtree(root, ignore_errors=True)


def redis_fixture():
    import redis
    root = tempfile.mkdtemp(prefix="olly-redis-")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", root,
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        rec = Recorder(port)
        rec.client(["redis-cli", "-p", str(rec.port), "SET", "greeting", "hello"])
        rec.client(comm="python3")
        r = redis.Redis(port=rec.port, protocol=2)
        r.set("k", "v"); r.get("k"); r.get("absent"); r.incr("n"); r.rpush("l", "a", "b", "c"); r.lrange("l", 0, -1)
        r.hset("h", mapping={"f1": "1", "f2": "2"}); r.hgetall("h")
        try:
            r.incr("l")
        except redis.ResponseError:
            pass
        r.set("big", b"z" * 100000); r.get("big")
        p = r.pipeline(transaction=False)
        for i in range(10):
            p.set(f"p{i}", i)
        for i in range(10):
            p.get(f"p{i}")
        p.execute()
        t = r.pipeline(transaction=True)
        t.incr("n"); t.incr("n"); t.execute()
        r.close()
        # RESP3: HELLO 3, map replies, pushes for pub/sub.
        r3 = redis.Redis(port=rec.port, protocol=3)
        r3.hgetall("h"); r3.set("x", 1)
        ps = r3.pubsub()
        ps.subscribe("news", "alerts")
        time.sleep(0.1)
        pub = redis.Redis(port=rec.port)
        pub.publish("news", "first"); pub.publish("alerts", "second")
        for _ in range(6):
            ps.get_message(timeout=0.3)
        ps.unsubscribe()
        for _ in range(3):
            ps.get_message(timeout=0.3)
        ps.close(); pub.close(); r3.close()
        # RESP2 pub/sub.
        r2 = redis.Redis(port=rec.port, protocol=2)
        ps2 = r2.pubsub()
        ps2.psubscribe("n*")
        time.sleep(0.1)
        pub2 = redis.Redis(port=rec.port)
        pub2.publish("news", "third")
        for _ in range(3):
            ps2.get_message(timeout=0.3)
        ps2.close(); pub2.close(); r2.close()
        # Inline commands, as telnet would send them.
        raw(rec.port, [b"PING\r\n", b"SET inline yes\r\nGET inline\r\n", b"QUIT\r\n"], pause=0.1)
        rec.finish()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def dns_fixture():
    port = free_port(socket.SOCK_DGRAM)
    tport = port
    server = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port", str(port),
                               "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=",
                               "--address=/example.test/10.1.2.3", "--address=/example.test/fd00::3",
                               "--txt-record=txt.example.test,\"olly\"", "--mx-host=example.test,mail.example.test,10",
                               "--user=root", "--local=/test/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(tport)
        udp = Recorder(port, udp=True)
        for q in [["example.test", "A"], ["example.test", "AAAA"], ["txt.example.test", "TXT"],
                  ["example.test", "MX"], ["nothing.test", "A"]]:
            udp.client(["dig", "@127.0.0.1", "-p", str(udp.port), "+tries=1", "+time=2", q[0], q[1]])
        tcp = Recorder(tport)
        tcp.conns = udp.conns  # one cid space
        tcp.records = udp.records
        tcp.procs = udp.procs
        tcp.lock = udp.lock
        tcp.client(["dig", "@127.0.0.1", "-p", str(tcp.port), "+tcp", "+keepopen", "+tries=1", "+time=2",
                    "example.test", "A", "txt.example.test", "TXT", "nothing.test", "A"])
        udp.stop = True
        udp.main.join(timeout=5)
        tcp.finish()
    finally:
        server.terminate()
        server.wait(timeout=10)


def postgres_fixture():
    import psycopg
    root = tempfile.mkdtemp(prefix="olly-pg-")
    os.chmod(root, 0o777)
    port = free_port()
    bindir = "/usr/lib/postgresql/15/bin"
    pw = os.path.join(root, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o644)
    asuser = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    subprocess.run(asuser + [f"{bindir}/initdb", "-D", f"{root}/data", "-U", "olly", "--auth=scram-sha-256",
                             f"--pwfile={pw}", "-E", "UTF8", "--locale=C"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = subprocess.Popen(asuser + [f"{bindir}/postgres", "-D", f"{root}/data", "-p", str(port), "-k", root,
                                        "-c", "listen_addresses=127.0.0.1", "-c", "ssl=off", "-c", "fsync=off"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        rec = Recorder(port)
        env = dict(os.environ, PGPASSWORD="secret")
        # psql: SSLRequest refused ('N'), SCRAM authentication, simple queries, an error.
        rec.client(["psql", "-h", "127.0.0.1", "-p", str(rec.port), "-U", "olly", "-d", "postgres", "-X", "-q",
                    "-c", "CREATE TABLE t (id int PRIMARY KEY, name text)",
                    "-c", "INSERT INTO t VALUES (1, 'one'), (2, 'two'); SELECT * FROM t ORDER BY id",
                    "-c", "SELECT 1/0"], env=env)
        rec.client(comm="python3")
        with psycopg.connect(host="127.0.0.1", port=rec.port, user="olly", password="secret", dbname="postgres",
                             sslmode="disable", autocommit=True) as c:
            c.execute("SELECT name FROM t WHERE id = %s", (1,)).fetchall()
            c.execute("SELECT name FROM t WHERE id = %s", (2,), prepare=True).fetchall()
            c.execute("SELECT name FROM t WHERE id = %s", (1,), prepare=True).fetchall()
            try:
                c.execute("SELECT * FROM missing_table WHERE id = %s", (1,))
            except psycopg.Error:
                pass
            with c.pipeline():
                for i in range(3, 8):
                    c.execute("INSERT INTO t VALUES (%s, %s)", (i, f"n{i}"))
                c.execute("SELECT count(*) FROM t")
            with c.cursor() as cur:
                with cur.copy("COPY t (id, name) FROM STDIN") as cp:
                    for i in range(100, 110):
                        cp.write_row((i, f"copied {i}"))
                with cur.copy("COPY (SELECT * FROM t ORDER BY id) TO STDOUT") as cp:
                    for _ in cp:
                        pass
            c.execute("NOTIFY ch, 'hi'")
        rec.finish()
    finally:
        # runuser does not pass signals on: stop the postmaster by the pid it wrote.
        try:
            with open(f"{root}/data/postmaster.pid") as f:
                os.kill(int(f.readline()), signal.SIGINT)
        except (OSError, ValueError):
            server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def mysql_fixture():
    import pymysql
    import mysql.connector
    root = tempfile.mkdtemp(prefix="olly-mariadb-")
    os.chmod(root, 0o777)  # the server runs as mysql and makes its socket here
    data = os.path.join(root, "data")
    port = free_port()
    asuser = ["--user=mysql"] if os.getuid() == 0 else []
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A certificate, so that the server offers TLS and one client switches to it.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{root}/key.pem",
                    "-out", f"{root}/cert.pem", "-days", "2", "-subj", "/CN=olly"], check=True, **quiet)
    os.chmod(f"{root}/key.pem", 0o644)
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                    "--skip-test-db"] + asuser, check=True, **quiet)
    server = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
                               f"--socket={root}/sock", f"--pid-file={root}/mariadb.pid", "--skip-log-bin",
                               "--innodb-buffer-pool-size=16M", f"--ssl-cert={root}/cert.pem", f"--ssl-key={root}/key.pem"]
                              + asuser, **quiet)
    try:
        wait_port(port)
        for _ in range(100):
            if os.path.exists(f"{root}/mariadb.pid"):
                break
            time.sleep(0.1)
        subprocess.run(["mariadb", "--no-defaults", f"--socket={root}/sock", "-uroot", "-e",
                        "CREATE DATABASE shop; CREATE USER olly@'%' IDENTIFIED BY 'secret'; GRANT ALL ON *.* TO olly@'%';"],
                       check=True, **quiet)
        rec = Recorder(port)
        # The mariadb client (plaintext): handshake with the database, text queries, a table.
        rec.client(["mariadb", "--no-defaults", "--skip-ssl", "-h", "127.0.0.1", "-P", str(rec.port), "-uolly", "-psecret",
                    "shop", "-e", "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT); "
                    "INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'fig', 7); "
                    "SELECT * FROM items ORDER BY id"])
        rec.client(comm="python3")
        # PyMySQL: USE, a multi-row result set, an error, COM_INIT_DB, COM_PING, two results
        # of one COM_QUERY (multi-statements), 300 rows (sequence ids wrap), COM_QUIT.
        c = pymysql.connect(host="127.0.0.1", port=rec.port, user="olly", password="secret",
                            client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS, ssl_disabled=True)
        with c.cursor() as cur:
            cur.execute("USE shop")
            cur.execute("SELECT id, name, qty FROM items WHERE qty > %s ORDER BY id", (2,))
            cur.fetchall()
            try:
                cur.execute("SELECT * FROM missing_table")
            except pymysql.MySQLError:
                pass
            c.select_db("shop")
            c.ping(reconnect=False)
            cur.execute("SELECT COUNT(*) FROM items; UPDATE items SET qty = qty + 1 WHERE id = 1")
            while cur.nextset():
                pass
            cur.execute("SELECT seq FROM seq_1_to_300")
            cur.fetchall()
        c.close()
        # MySQL Connector/Python (pure): an auth switch to mysql_native_password, a prepared
        # statement executed twice (binary result sets), its COM_STMT_CLOSE, an error at prepare.
        c = mysql.connector.connect(host="127.0.0.1", port=rec.port, user="olly", password="secret", database="shop",
                                    use_pure=True, ssl_disabled=True, auth_plugin="caching_sha2_password")
        cur = c.cursor(prepared=True)
        cur.execute("SELECT name, qty FROM items WHERE id = %s", (1,))
        cur.fetchall()
        cur.execute("SELECT name, qty FROM items WHERE id = %s", (2,))
        cur.fetchall()
        cur.close()
        cur = c.cursor(prepared=True)
        try:
            cur.execute("SELECT nope FROM items WHERE id = %s", (1,))
        except mysql.connector.Error:
            pass
        cur.close()
        c.close()
        # CLIENT_DEPRECATE_EOF (none of these clients asks for it): a minimal client over a
        # plain socket, so that the server ends result sets with OK packets and sends no EOF
        # after column definitions.
        mysql_deprecate_eof_client(rec.port)
        # TLS: the SSLRequest, then ciphertext.
        c = pymysql.connect(host="127.0.0.1", port=rec.port, user="olly", password="secret", database="shop",
                            ssl={"ca": f"{root}/cert.pem", "check_hostname": False})
        with c.cursor() as cur:
            cur.execute("SELECT 1")
        c.close()
        rec.finish()
    finally:
        try:
            with open(f"{root}/mariadb.pid") as f:
                os.kill(int(f.readline()), signal.SIGTERM)
        except (OSError, ValueError):
            server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def mysql_deprecate_eof_client(port, user=b"olly", password=b"secret"):
    """Handshake (mysql_native_password) with CLIENT_DEPRECATE_EOF, a text result set, a
    prepared statement executed once (a binary result set), COM_STMT_CLOSE, COM_QUIT."""
    import hashlib, struct
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(2.0)

    def packet(seq, payload):
        s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

    def read_all(pause=0.3):
        time.sleep(pause)
        got = b""
        s.settimeout(0.2)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except socket.timeout:
            pass
        return got

    greeting = read_all()
    p = greeting[4:]
    v = p.index(b"\0", 1)
    scramble = p[v + 5:v + 13] + p[v + 32:v + 44]
    h1 = hashlib.sha1(password).digest()
    auth = bytes(a ^ b for a, b in zip(h1, hashlib.sha1(scramble + hashlib.sha1(h1).digest()).digest()))
    caps = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | (1 << 24)
    packet(1, struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23) + user + b"\0" + bytes([len(auth)]) + auth
           + b"shop\0" + b"mysql_native_password\0")
    read_all()
    packet(0, b"\x03SELECT id, name, qty FROM items WHERE id < 3 ORDER BY id")
    read_all()
    packet(0, b"\x16SELECT name FROM items WHERE qty > ?")
    prepared = read_all()
    stmt = prepared[5:9]
    # COM_STMT_EXECUTE: no cursor, one iteration, a NULL bitmap, new-params-bound, LONGLONG 4.
    packet(0, b"\x17" + stmt + b"\x00" + struct.pack("<I", 1) + b"\x00\x01" + b"\x08\x00" + struct.pack("<q", 4))
    read_all()
    packet(0, b"\x19" + stmt)
    packet(0, b"\x01")
    read_all()
    s.close()


# A MongoDB wire-protocol server (mockupdb, which runs under Debian's /usr/bin/python3):
# answers hello/isMaster as a 6.0 primary, find with two documents (NamespaceNotFound, code
# 26, for the collection "missing"), insert, ping and endSessions; never answers moreToCome.
MONGO_SERVER = r"""
import datetime, sys
from mockupdb import MockupDB, OpMsg
s = MockupDB(port=0)
def handle(r):
    if isinstance(r, OpMsg) and r.flags and r.flags & 2:
        return True
    name = (r.command_name or "").lower()
    if name in ("ismaster", "hello"):
        return r.ok(ismaster=True, isWritablePrimary=True, helloOk=True, minWireVersion=0, maxWireVersion=17,
                    maxBsonObjectSize=16777216, maxMessageSizeBytes=48000000, maxWriteBatchSize=100000,
                    localTime=datetime.datetime(2026, 11, 22), logicalSessionTimeoutMinutes=30, connectionId=1)
    if name == "find":
        if r.doc["find"] == "missing":
            return r.command_err(code=26, errmsg="ns does not exist: shop.missing")
        return r.ok(cursor={"id": 0, "ns": "shop." + r.doc["find"],
                            "firstBatch": [{"_id": 1, "name": "ada"}, {"_id": 2, "name": "grace"}]})
    if name == "insert":
        return r.ok(n=max(1, len(r.docs) - 1))
    if name in ("ping", "endsessions"):
        return r.ok()
    return r.command_err(code=59, errmsg="no such command: " + name)
s.autoresponds(handle)
print(s.run(), flush=True)
sys.stdin.read()
s.stop()
"""


def mongo_fixture():
    import pymongo
    server = subprocess.Popen(["/usr/bin/python3", "-c", MONGO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline())
        wait_port(port)
        rec = Recorder(port)
        rec.client(comm="python3")
        # One connection for everything (no monitor traffic in the middle): directConnection,
        # a long heartbeat.
        c = pymongo.MongoClient("127.0.0.1", rec.port, directConnection=True, heartbeatFrequencyMS=60000,
                                maxPoolSize=1, serverSelectionTimeoutMS=5000)
        db = c.shop
        db.users.insert_one({"_id": 3, "name": "linus"})
        list(db.users.find({"name": "ada"}))
        try:
            list(db.missing.find({}))
        except pymongo.errors.OperationFailure:
            pass
        db.get_collection("events", write_concern=pymongo.WriteConcern(w=0)).insert_one({"kind": "click"})
        db.command("ping")
        c.close()
        # Debian's PyMongo 3.11 (beside mockupdb): its handshake is a legacy OP_QUERY isMaster
        # on admin.$cmd, answered by OP_REPLY; then OP_MSG.
        rec.client(["/usr/bin/python3", "-c", "import pymongo; c = pymongo.MongoClient('127.0.0.1', %d, "
                    "directConnection=True, heartbeatFrequencyMS=60000, maxPoolSize=1); "
                    "c.shop.users.find_one({'_id': 1}); c.close()" % rec.port])
        rec.finish()
    finally:
        stop_stdin_server(server)


def nghttpd(root, www, *args, tls=()):
    """An nghttpd (nghttp2 1.52) on loopback: h2c with prior knowledge unless `tls` names a
    key and a certificate."""
    port = free_port()
    server = subprocess.Popen(["nghttpd", "-a", "127.0.0.1", "-d", www, *args, str(port), *tls],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return server, port


def h2_site(root):
    """The files the HTTP/2 fixtures serve: every body is known from its path."""
    www = os.path.join(root, "www")
    os.makedirs(os.path.join(www, "many"))
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("<!doctype html><title>olly h2</title><link rel=stylesheet href=/style.css><p>hello over h2</p>\n")
    with open(os.path.join(www, "style.css"), "w") as f:
        f.write("p { color: teal }\n")
    with open(os.path.join(www, "echo"), "w") as f:
        f.write("echo\n")
    for i in range(100):
        with open(os.path.join(www, "many", f"f{i:03d}"), "w") as f:
            f.write(f"this is file {i}\n" * (i % 7 + 1))
    return www


def http2_fixture():
    """nghttp2 1.52 over h2c with prior knowledge: nghttp (GET, HEAD, 404, POST, 100-continue,
    CONTINUATION, a small header table, padding, 100 concurrent streams on one connection)
    and h2load against nghttpd; a second nghttpd pads its frames, pushes /style.css with
    /index.html, adds a trailer to every response and echoes uploads."""
    root = tempfile.mkdtemp(prefix="olly-h2-")
    www = h2_site(root)
    body = os.path.join(root, "upload.bin")
    with open(body, "wb") as f:
        f.write(b"".join(b"line %05d of the upload\n" % i for i in range(3000)))  # 72 KB: several DATA frames
    plain, fancy = None, None
    try:
        plain, port = nghttpd(root, www, "--no-tls")
        fancy, fport = nghttpd(root, www, "--no-tls", "-b", "16", "-p", "/index.html=/style.css",
                               "--trailer", "x-served-by: nghttpd", "--echo-upload")
        rec = Recorder(port)
        base = f"http://127.0.0.1:{rec.port}"
        # 1: two GETs (200, 404) on one connection.
        rec.client(["nghttp", "-n", f"{base}/index.html", f"{base}/missing"])
        # 2: HEAD.
        rec.client(["nghttp", "-n", "-H", ":method: HEAD", f"{base}/index.html"])
        # 3: POST with a 72 KB body (nghttpd answers with the file).
        rec.client(["nghttp", "-n", "-d", body, f"{base}/echo"])
        # 4: a header block larger than a frame: HEADERS + CONTINUATION; a 512-byte
        # decoder table (SETTINGS_HEADER_TABLE_SIZE), so the server's encoder evicts.
        rec.client(["nghttp", "-n", "--continuation", "-c", "512", f"{base}/index.html", f"{base}/style.css"])
        # 5: 100 concurrent streams on one connection, each its own file.
        rec.client(["nghttp", "-n", "-b", "5"] + [f"{base}/many/f{i:03d}" for i in range(100)])
        # 6: h2load, 20 requests 10 at a time on one connection.
        rec.client(["h2load", "-n", "20", "-c", "1", "-m", "10", f"{base}/style.css"])
        # The second server: padding, push, trailers, echoed uploads, 100-continue.
        rec2 = Recorder(fport)
        rec2.conns, rec2.records, rec2.procs, rec2.lock = rec.conns, rec.records, rec.procs, rec.lock
        fbase = f"http://127.0.0.1:{rec2.port}"
        rec2.client(["nghttp", "-n", f"{fbase}/index.html"])
        rec2.client(["nghttp", "-n", "-b", "3", "--expect-continue", "-d", body, f"{fbase}/echo"])
        rec.stop = True
        rec.main.join(timeout=5)
        for t in rec.threads:
            t.join(timeout=10)
        rec2.finish()
    finally:
        for s in (plain, fancy):
            if s:
                s.terminate()
                s.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def http2tls_fixture():
    """h2 over TLS: nghttp against nghttpd with a self-signed certificate, captured by
    olly-capture with its LD_PRELOAD hook (--preload), whose SSL_read/SSL_write hooks give
    the plaintext (tls: true) beside the socket's handshake records. Needs olly-capture and
    libolly.so in $OLLY_BIN_DIR (make build). The hook's stats record is left out."""
    bin_dir = os.environ.get("OLLY_BIN_DIR", ".build/debug")
    capture = os.path.join(bin_dir, "olly-capture")
    if not os.access(capture, os.X_OK) or not os.path.exists(os.path.join(bin_dir, "libolly.so")):
        raise SystemExit(f"http2tls: needs {capture} and libolly.so beside it (make build)")
    root = tempfile.mkdtemp(prefix="olly-h2tls-")
    www = h2_site(root)
    body = os.path.join(root, "upload.bin")
    with open(body, "wb") as f:
        f.write(b"".join(b"secret line %04d\n" % i for i in range(1000)))  # 17 KB: two DATA frames
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{root}/key.pem",
                    "-out", f"{root}/cert.pem", "-days", "2", "-subj", "/CN=olly"], check=True, **quiet)
    server = None
    try:
        server, port = nghttpd(root, www, tls=(f"{root}/key.pem", f"{root}/cert.pem"))
        base = f"https://127.0.0.1:{port}"
        # One capture, two connections: GET 200 and 404, then a POST; nghttp negotiates h2
        # by ALPN (the capture does not see it) and warns about the certificate.
        script = f"nghttp -n {base}/index.html {base}/missing; nghttp -n -d {body} {base}/echo"
        got = subprocess.run([capture, "--preload", "--", "sh", "-c", script], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60).stdout.decode()
        for line in got.splitlines():
            if not line.startswith('{"kind":"stats"'):
                sys.stdout.write(line + "\n")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def grpc_fixture():
    """Python grpcio over insecure h2c: scripts/grpc-fixture.py's client and server (unary,
    server, client and bidi streaming, an error status, gzip, an unknown method, a cancel).
    What the client called and got goes to Tests/Fixtures/reassembly/grpc.calls.json."""
    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.relpath(os.path.join(here, "grpc-fixture.py"))
    server = subprocess.Popen([sys.executable, script, "server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline())
        wait_port(port)
        rec = Recorder(port)
        calls = os.path.relpath(os.path.join(here, "..", "Tests", "Fixtures", "reassembly", "grpc.calls.json"))
        rec.client([sys.executable, script, "client", str(rec.port), calls],
                   env=dict(os.environ, GRPC_ENABLE_FORK_SUPPORT="0"))
        rec.finish()
    finally:
        stop_stdin_server(server)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    fn = {"http": http, "redis": redis_fixture, "dns": dns_fixture, "postgres": postgres_fixture,
          "mysql": mysql_fixture, "mongo": mongo_fixture, "http2": http2_fixture, "grpc": grpc_fixture, "http2tls": http2tls_fixture}.get(what)
    if fn is None:
        raise SystemExit("usage: record-fixtures.py http|redis|dns|postgres|mysql|mongo|http2|grpc|http2tls > FILE")
    fn()
