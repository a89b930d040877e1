"""Hostile HTTP clients against the file server (limits, changing files,
conditional requests, links that reveal nothing).

The server is tests/integration/http_server_main.c (http_proc.Server): the
bot's own http_start wired to the real indexer. Clients bind to addresses
of 127.0.0.0/8 (all local) to play many machines. Figures (the share of a
normal client's requests served under attack, timings) are printed; the
assertions are generous bounds.
"""
import asyncio
import base64
import hashlib
import http.client
import os
import re
import socket
import statistics
import struct
import subprocess
import threading
import time

from conftest_shared import FISBOT_BIN
from http_proc import make_server  # noqa: F401

CONTENT = bytes(range(256)) * 40 + b"tail"  # 10244 bytes


def etag_of(data):
    return '"' + hashlib.sha256(data).hexdigest() + '"'


def connect(port, src="127.0.0.1", rcvbuf=None, timeout=10):
    """A socket to the server from loopback address src."""
    so = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        so.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    so.settimeout(timeout)
    so.bind((src, 0))
    so.connect(("127.0.0.1", port))
    return so


def read_head(so):
    """Reads a response's status line and headers: (status, [(name,
    value)], bytes of body already read)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = so.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    return int(lines[0].split(" ")[1]), headers, rest


def header(headers, name):
    """The values of a header, in order."""
    return [v for k, v in headers if k.lower() == name.lower()]


def raw(port, request: bytes, src="127.0.0.1"):
    """Sends a raw request; returns (status, headers, body)."""
    with connect(port, src) as so:
        so.sendall(request)
        status, headers, body = read_head(so)
        length = header(headers, "Content-Length")
        want = int(length[0]) if length else 0
        while len(body) < want:
            chunk = so.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def closed_within(so, seconds):
    """Waits up to seconds for the server to close so (reading and
    dropping whatever comes); returns the time it took, or None."""
    start = time.monotonic()
    so.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if so.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def still_open(so):
    """True if the server has not closed so (nothing to read yet)."""
    timeout = so.gettimeout()
    so.settimeout(0)
    try:
        return so.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        so.settimeout(timeout)


def limit_lines(log: str):
    """The log lines about connection limits: one per refusal before the
    summaries."""
    return [line for line in log.splitlines()
            if "limit" in line or re.search(r"http: \w+ 503 ", line)]


class Trickler:
    """Slowloris: per_addr connections from each source address, each
    sending a request's headers one byte every `every` seconds, and
    connecting again whenever the server closes it (as an attacker
    would). Runs its own event loop in a thread."""

    def __init__(self, port, addrs, per_addr, path: bytes, every=0.5):
        self.port, self.addrs, self.per_addr = port, addrs, per_addr
        self.path, self.every = path, every
        self.opened = self.closed = 0
        self.stopping = False
        self.thread = threading.Thread(target=lambda: asyncio.run(self.main()))

    async def one(self, src):
        while not self.stopping:
            try:
                r, w = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=(src, 0))
            except OSError:
                await asyncio.sleep(0.2)
                continue
            self.opened += 1
            try:
                w.write(b"GET " + self.path + b" HTTP/1.1\r\nHost: x\r\n")
                while not self.stopping:
                    w.write(b"X")
                    await w.drain()
                    try:
                        await asyncio.wait_for(r.read(1024), self.every)
                        break  # closed, or answered (and then closed)
                    except asyncio.TimeoutError:
                        pass
            except OSError:
                pass
            self.closed += 1
            w.close()

    async def main(self):
        await asyncio.gather(*[self.one(a) for a in self.addrs
                               for _ in range(self.per_addr)])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(timeout=30)


def test_slowloris_many_addresses(make_server):
    """4 trickling connections from each of 100 addresses, reconnecting
    when dropped, while a normal client makes 90 requests: most are
    served (before: 1 of 90), and the log stays small."""
    s = make_server({"f.bin": CONTENT},
                    "max_connections = 200\nmax_per_ip = 16\n"
                    "timeout = 30s\nheader_timeout = 2s\n")
    path = s.url("f.bin")
    addrs = [f"127.0.1.{i}" for i in range(1, 101)]
    log_before = len(s.log_text().splitlines())
    with Trickler(s.port, addrs, 4, path.encode()) as t:
        deadline = time.monotonic() + 20
        while t.opened < 400 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        served, other = 0, []
        for _ in range(90):
            try:
                c = http.client.HTTPConnection(
                    "127.0.0.1", s.port, timeout=10,
                    source_address=("127.0.0.1", 0))
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and body == CONTENT:
                    served += 1
                else:
                    other.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                other.append(type(e).__name__)
            time.sleep(0.05)
        opened = t.opened
    print(f"normal requests served under slowloris: {served}/90 "
          f"(others: {other[:10]}); attacker connections opened: {opened}")
    assert served >= 60, (served, other)
    # Cut at header_timeout, the attackers had to connect again and again.
    assert opened > 400
    time.sleep(0.5)
    new_lines = s.log_text().splitlines()[log_before:]
    noise = [line for line in new_lines if "http: GET 200" not in line]
    print(f"log lines during the attack (access lines aside): {len(noise)}")
    assert len(limit_lines("\n".join(new_lines))) <= 5, noise[:20]
    assert len(noise) <= 10, noise[:20]


def test_headers_deadline_is_absolute(make_server):
    """A connection sending a byte every 0.5 s is closed at
    header_timeout; on a kept-alive connection, the next request's
    headers must come within timeout of the response."""
    big = os.urandom(4 << 20)
    s = make_server({"f.bin": CONTENT, "big.bin": big},
                    "timeout = 3s\nheader_timeout = 2s\n")
    path = s.url("f.bin").encode()

    def trickle(so, limit):
        start = time.monotonic()
        so.settimeout(0.5)
        while time.monotonic() - start < limit:
            try:
                so.send(b"X")
                if so.recv(65536) == b"":
                    return time.monotonic() - start
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
        return None

    so = connect(s.port, "127.0.4.1")
    so.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n")
    took = trickle(so, 10)
    so.close()
    print(f"trickling connection closed after {took} s (header_timeout 2s)")
    assert took is not None and 1.5 <= took <= 8

    so = connect(s.port, "127.0.4.2")
    so.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _ = read_head(so)
    assert status == 200
    so.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n")
    took = trickle(so, 12)
    so.close()
    print(f"kept-alive trickler closed after {took} s (timeout 3s)")
    assert took is not None and 2.5 <= took <= 10

    # Headers in time, then a slow reader: never cut by header_timeout.
    bigpath = s.url("big.bin").encode()
    so = connect(s.port, "127.0.4.3", rcvbuf=32768, timeout=20)
    so.sendall(b"GET " + bigpath + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = read_head(so)
    assert status == 200
    while len(body) < len(big):
        chunk = so.recv(262144)
        assert chunk, len(body)
        body += chunk
        time.sleep(0.05)  # about 4 s in all
    so.close()
    assert body == big


def test_eviction_at_max_connections(make_server):
    """At max_connections, a new client takes the place of the connection
    that has waited longest for its headers, which is simply closed."""
    s = make_server({"f.bin": CONTENT},
                    "max_connections = 10\nmax_per_ip = 10\n"
                    "header_timeout = 60s\ntimeout = 60s\n")
    path = s.url("f.bin")
    idle = []
    for i in range(10):
        idle.append(connect(s.port, f"127.0.2.{i + 1}"))
        time.sleep(0.05)
    time.sleep(0.5)
    r, body = s.request("GET", path)
    assert r.status == 200 and body == CONTENT
    # The oldest was closed without a byte; the others still wait.
    idle[0].settimeout(5)
    assert idle[0].recv(1024) == b""
    assert all(still_open(so) for so in idle[1:])
    # Full again (once the server saw that client leave): the next
    # oldest goes.
    time.sleep(0.5)
    idle.append(connect(s.port, "127.0.2.11"))
    time.sleep(0.5)
    r, body = s.request("GET", path)
    assert r.status == 200
    idle[1].settimeout(5)
    assert idle[1].recv(1024) == b""
    assert all(still_open(so) for so in idle[2:])
    for so in idle:
        so.close()


def test_per_ip_limit_exact(make_server):
    """max_per_ip connections from one address are served, every one
    beyond gets 503 with Retry-After (none is dropped silently), other
    addresses are not affected, and a closed connection frees its
    place. A flood of silent connections from one address cannot fill the
    server either."""
    s = make_server({"f.bin": CONTENT},
                    "max_per_ip = 3\nmax_connections = 30\n"
                    "header_timeout = 60s\n")
    path = s.url("f.bin").encode()
    held = []
    for _ in range(3):
        so = connect(s.port, "127.0.3.1")
        so.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_head(so)[0] == 200
        held.append(so)
    extra = [connect(s.port, "127.0.3.1") for _ in range(20)]
    for so in extra:
        so.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    for so in extra:
        status, headers, _ = read_head(so)
        assert status == 503
        assert header(headers, "Retry-After")[0].isdigit()
        so.close()
    status, _, body = raw(s.port, b"GET " + path +
                          b" HTTP/1.1\r\nHost: x\r\n\r\n", src="127.0.3.2")
    assert status == 200 and body == CONTENT
    held.pop().close()
    # Its place comes free once the server has seen the close.
    deadline = time.monotonic() + 10
    while True:
        status, _, body = raw(s.port, b"GET " + path +
                              b" HTTP/1.1\r\nHost: x\r\n\r\n",
                              src="127.0.3.1")
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200 and body == CONTENT
    flood = [connect(s.port, "127.0.3.9") for _ in range(200)]
    time.sleep(0.5)
    status, _, body = raw(s.port, b"GET " + path +
                          b" HTTP/1.1\r\nHost: x\r\n\r\n", src="127.0.3.3")
    assert status == 200 and body == CONTENT
    for so in held + flood:
        so.close()


def test_refusals_summarised(make_server):
    """300 refused connections make no line each: one summary line at
    most every 10 s, with the count (written at the latest when the
    server stops)."""
    s = make_server({"f.bin": CONTENT}, "max_per_ip = 2\n")
    path = s.url("f.bin").encode()
    held = []
    for _ in range(2):
        so = connect(s.port, "127.0.5.1")
        so.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_head(so)[0] == 200
        held.append(so)
    for _ in range(300):
        status, _, _ = raw(s.port, b"GET " + path +
                           b" HTTP/1.1\r\nHost: x\r\n\r\n", src="127.0.5.1")
        assert status == 503
    for so in held:
        so.close()
    s.stop()
    lines = limit_lines(s.log.read_text(errors="replace"))
    print(f"log lines about limits for 300 refusals: {len(lines)}")
    assert len(lines) <= 2, lines[:10]
    total = sum(int(m.group(1)) for line in lines
                for m in [re.search(r"refused (\d+) connections", line)] if m)
    assert total == 300, lines


def test_file_rewritten_during_slow_download(make_server):
    """A file rewritten while a slow client downloads it: the connection
    closes before the announced length, every byte received is the old
    file's, and the download is not counted."""
    old = os.urandom(32 << 20)
    s = make_server({"big.bin": old, "small.bin": CONTENT},
                    "header_timeout = 2s\n")
    path = s.url("big.bin").encode()
    so = connect(s.port, "127.0.6.1", rcvbuf=32768, timeout=30)
    so.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = read_head(so)
    assert status == 200
    length = int(header(headers, "Content-Length")[0])
    assert length == len(old)
    deadline = time.monotonic() + 3  # slow: past header_timeout
    while time.monotonic() < deadline:
        body += so.recv(16384)
        time.sleep(0.1)
    with open(s.share / "big.bin", "r+b") as f:  # same size, new bytes
        f.write(os.urandom(len(old)))
    while True:
        try:
            chunk = so.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        body += chunk
    so.close()
    print(f"received {len(body)} of {length} bytes")
    assert len(body) < length
    assert body == old[:len(body)]
    # A complete download is counted (so the count is up to date)...
    r, got = s.request("GET", s.url("small.bin"))
    assert r.status == 200 and got == CONTENT
    assert wait_downloads(s, "small.bin", 1) == 1
    # ...the cut one is not.
    assert downloads(s, "big.bin") == 0
    assert "changed while it was sent" in s.log_text()


def downloads(s, path):
    r = subprocess.run([FISBOT_BIN, "info", "-c", str(s.config), path],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^downloads: (\d+)$", r.stdout.decode(), re.M)
    return int(m.group(1))


def wait_downloads(s, path, want):
    deadline = time.monotonic() + 20
    while downloads(s, path) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return downloads(s, path)


def forge(token: str, file_id=None, flip_mac=False, key_id=None) -> str:
    """A token changed in its file id, MAC or key id."""
    raw_tok = bytearray(base64.urlsafe_b64decode(token + "="))
    if file_id is not None:
        raw_tok[5:13] = struct.pack(">Q", file_id)
    if key_id is not None:
        raw_tok[1:5] = struct.pack(">I", key_id)
    if flip_mac:
        raw_tok[20] ^= 0x55
    return base64.urlsafe_b64encode(bytes(raw_tok)).decode().rstrip("=")


def test_503_while_rehashing(make_server):
    """A changed file: 409 when the indexer did not know (it is told),
    then 503 with Retry-After while it is hashed again, then 403 for the
    old link; a forged link for the same file gets 403 throughout."""
    s = make_server({"f.bin": CONTENT}, settle="3s", backdate=True)
    path = s.url("f.bin")
    token = path.split("/")[2]
    forged = path.replace(token, forge(token, flip_mac=True))
    r, body = s.request("GET", path)
    assert r.status == 200 and body == CONTENT
    (s.share / "f.bin").write_bytes(b"new content " * 100)
    r, _ = s.request("GET", path)
    assert r.status == 409
    deadline = time.monotonic() + 3
    while r.status == 409 and time.monotonic() < deadline:
        time.sleep(0.05)
        r, _ = s.request("GET", path)
    assert r.status == 503, r.status
    assert r.headers["Retry-After"].isdigit()
    r2, _ = s.request("HEAD", path)
    assert r2.status == 503
    rf, _ = s.request("GET", forged)
    assert rf.status == 403
    deadline = time.monotonic() + 30
    while r.status == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
        r, _ = s.request("GET", path)
    assert r.status == 403
    r, body = s.request("GET", s.url("f.bin"))
    assert r.status == 200 and body == b"new content " * 100


def test_304_content_length(make_server):
    """304 carries the 200's Content-Length (or none), never 0, and no
    body: the connection goes on with the next response."""
    big = os.urandom(100000)
    s = make_server({"small.bin": CONTENT, "big.bin": big})
    for name, data in (("small.bin", CONTENT), ("big.bin", big)):
        path = s.url(name).encode()
        with connect(s.port) as so:
            for cond in (b"If-None-Match: " + etag_of(data).encode(),
                         b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"):
                for method in (b"GET", b"HEAD"):
                    so.sendall(method + b" " + path + b" HTTP/1.1\r\n"
                               b"Host: x\r\n" + cond + b"\r\n\r\n")
                    status, headers, rest = read_head(so)
                    assert status == 304, (name, cond)
                    assert rest == b""
                    lengths = header(headers, "Content-Length")
                    assert lengths in ([], [str(len(data))]), (name, lengths)
                    assert header(headers, "ETag") == [etag_of(data)]
            so.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_head(so)
            while len(body) < len(data):
                body += so.recv(65536)
            assert status == 200 and body == data


def test_412_preconditions(make_server):
    """If-Match (strong comparison) and If-Unmodified-Since give 412 when
    not met, in RFC 9110 §13.2.2 order."""
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    etag = etag_of(CONTENT)
    past = "Sun, 06 Nov 1994 08:49:37 GMT"
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    cases = [
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": "W/" + etag}, 412),
        ({"If-Match": '"other", ' + etag}, 200),
        ({"If-Match": etag}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Unmodified-Since": past}, 412),
        ({"If-Unmodified-Since": future}, 200),
        ({"If-Unmodified-Since": "not a date"}, 200),
        # If-Match decides; If-Unmodified-Since is then ignored.
        ({"If-Match": etag, "If-Unmodified-Since": past}, 200),
        # 412 comes before 304.
        ({"If-Match": '"other"', "If-None-Match": etag}, 412),
        ({"If-Unmodified-Since": past, "If-None-Match": etag}, 412),
        ({"If-Match": etag, "If-None-Match": etag}, 304),
        ({"If-Match": '"other"', "Range": "bytes=0-9"}, 412),
    ]
    for hdrs, want in cases:
        for method in ("GET", "HEAD"):
            r, body = s.request(method, path, hdrs)
            assert r.status == want, (method, hdrs, r.status)
            if want == 200 and method == "GET":
                assert body == CONTENT


def test_host_required(make_server):
    """An HTTP/1.1 request without Host, or with two, gets 400."""
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin").encode()
    status, _, _ = raw(s.port, b"GET " + path + b" HTTP/1.1\r\n\r\n")
    assert status == 400
    status, _, _ = raw(s.port, b"HEAD " + path + b" HTTP/1.1\r\n"
                       b"Connection: close\r\n\r\n")
    assert status == 400
    status, _, _ = raw(s.port, b"GET " + path + b" HTTP/1.1\r\n"
                       b"Host: a\r\nHost: b\r\n\r\n")
    assert status == 400
    status, _, _ = raw(s.port, b"GET " + path + b" HTTP/1.1\r\n"
                       b"Host: a/b@c\r\n\r\n")
    assert status == 400
    status, _, _ = raw(s.port, b"PUT /u/x/y HTTP/1.1\r\n"
                       b"Content-Length: 1\r\n\r\nx")
    assert status == 400
    # HTTP/1.0 may leave it out; a proper one is fine.
    status, _, body = raw(s.port, b"GET " + path + b" HTTP/1.0\r\n\r\n")
    assert status == 200 and body == CONTENT
    status, _, body = raw(s.port, b"GET " + path + b" HTTP/1.1\r\n"
                          b"Host: [::1]:8080\r\n\r\n")
    assert status == 200 and body == CONTENT


def test_forbidden_reveals_nothing(make_server):
    """A wrong MAC, an unknown file id, a deleted file and another key
    get the same 403: same body, same headers, similar time."""
    s = make_server({"f.bin": CONTENT, "g.bin": b"to be deleted"})
    path = s.url("f.bin")
    token = path.split("/")[2]
    gpath = s.url("g.bin")
    (s.share / "g.bin").unlink()
    r, _ = s.request("GET", gpath)  # 404, and the indexer is told
    assert r.status == 404
    deadline = time.monotonic() + 20
    while r.status != 403 and time.monotonic() < deadline:
        time.sleep(0.1)
        r, _ = s.request("GET", gpath)
    links = {
        "wrong MAC": path.replace(token, forge(token, flip_mac=True)),
        "unknown id": path.replace(token, forge(token, file_id=987654)),
        "deleted file": gpath,
        "other key": path.replace(token, forge(token, key_id=12345)),
    }
    seen = {}
    for what, link in links.items():
        for method in ("GET", "HEAD"):
            status, headers, body = raw(
                s.port, method.encode() + b" " + link.encode() +
                b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            hdrs = sorted((k, v) for k, v in headers if k != "Date")
            seen.setdefault(method, {})[what] = (status, hdrs, body)
    for method, answers in seen.items():
        first = next(iter(answers.values()))
        assert first[0] == 403
        for what, answer in answers.items():
            assert answer == first, (method, what, answer, first)

    # Timing: medians of interleaved requests on kept-alive connections.
    times = {"wrong MAC": [], "unknown id": []}
    conns = {what: s.conn() for what in times}
    for _ in range(300):
        for what in times:
            t0 = time.perf_counter()
            conns[what].request("GET", links[what])
            resp = conns[what].getresponse()
            resp.read()
            times[what].append(time.perf_counter() - t0)
            assert resp.status == 403
    med = {what: statistics.median(v) * 1e6 for what, v in times.items()}
    print("median 403 time (µs): " +
          ", ".join(f"{w} {m:.0f}" for w, m in med.items()))
    assert abs(med["wrong MAC"] - med["unknown id"]) < 5000, med


def test_touch_r_after_edit_is_not_served(make_server):
    """An in-place edit whose size and mtime are put back (touch -r) still
    changes the ctime: the link must not serve the new bytes under the old
    ETag."""
    content = b"A" * 100_000
    s = make_server({"f.bin": content})
    path = s.url("f.bin")
    r, body = s.request("GET", path)
    assert r.status == 200 and body == content
    st = os.stat(s.share / "f.bin")
    time.sleep(0.05)  # a later ctime than the row's
    with open(s.share / "f.bin", "r+b") as f:
        f.write(b"B")
    os.utime(s.share / "f.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(s.share / "f.bin").st_mtime_ns == st.st_mtime_ns
    r, body = s.request("GET", path)
    assert r.status in (409, 503), r.status
    assert body != b"B" + content[1:]
