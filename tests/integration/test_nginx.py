"""fisbot behind the real nginx, configured by examples/nginx/fisbot.conf
(nginx_proc.py): offload = x-accel (nginx sends the bytes, Range
included, after the bot checked the link and counted the download), and
trusted_proxies (the limits count each forwarded client, not nginx)."""
import http.client
import socket
import sqlite3
import subprocess
import time

import pytest

from http_proc import make_server  # noqa: F401
from nginx_proc import Nginx

BIG = bytes(range(256)) * 4096 * 64  # 64 MiB: fills every socket buffer
NAMES = {"plain.bin": bytes(range(256)) * 300,
         "dir/spaced Ünï ?#%+x.bin": b"odd name\n" * 1000,
         "small.txt": b"hello\n"}


@pytest.fixture
def front(make_server, tmp_path):
    """front(files, http_extra, tls=None) -> (bot, nginx): a bot trusting nginx, and
    nginx running the example site in front of it."""
    started = []

    def make(files, http_extra, tls=None):
        s = make_server(files, "trusted_proxies = 127.0.0.1\n" + http_extra)
        n = Nginx(tmp_path / f"nginx{len(started)}", s.port, s.share, tls)
        started.append(n)
        return s, n
    yield make
    for n in started:
        n.stop()


def get(port, path, headers=None, method="GET", source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                   source_address=(source, 0))
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def counted(s, name):
    """(downloads, bytes_served) of the file called name."""
    db = sqlite3.connect(s.root / "fisbot.db")
    try:
        row = db.execute("SELECT downloads, bytes_served FROM files "
                         "WHERE CAST(name AS BLOB) = ?",
                         (name.encode(),)).fetchone()
    finally:
        db.close()
    return tuple(row)


def test_x_accel_bytes_range_head(front):
    s, n = front(NAMES, "offload = x-accel\n")
    for name, data in NAMES.items():
        path = s.url(name)
        r, body = get(n.port, path)
        assert r.status == 200 and body == data, (name, r.status)
        assert r.getheader("Server").startswith("nginx")
        assert "attachment" in r.getheader("Content-Disposition")
        assert r.getheader("X-Accel-Redirect") is None
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        r, body = get(n.port, path, {"Range": "bytes=2-4"})
        assert r.status == 206 and body == data[2:5]
        assert r.getheader("Content-Range") == f"bytes 2-4/{len(data)}"
        r, body = get(n.port, path, method="HEAD")
        assert r.status == 200 and body == b""
        assert int(r.getheader("Content-Length")) == len(data)
        assert "attachment" in r.getheader("Content-Disposition")
        # nginx's own validator: the bytes came from nginx's static
        # module, not through from the bot (whose ETag is the SHA-256).
        assert len(r.getheader("ETag")) < 40, r.getheader("ETag")
    # Counted: the full GET of each file, and the bytes of the range,
    # which reached no end (written in batches: poll).
    want = (1, len(NAMES["plain.bin"]) + 3)
    deadline = time.time() + 20
    while counted(s, "plain.bin") != want and time.time() < deadline:
        time.sleep(0.1)
    assert counted(s, "plain.bin") == want


def test_x_accel_links_still_checked(front):
    s, n = front(NAMES, "offload = x-accel\n")
    path = s.url("plain.bin")
    tok = path.split("/")[2]
    bad = "/f/" + tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB") + \
        "/plain.bin"
    r, body = get(n.port, bad)
    assert r.status == 403 and body.startswith(b"this link is not valid")
    # The internal location cannot be asked for directly.
    r, _ = get(n.port, "/fisbot-files/plain.bin")
    assert r.status == 404
    # A file changed after hashing is refused, not handed to nginx.
    (s.share / "plain.bin").write_bytes(b"changed")
    r, _ = get(n.port, path)
    assert r.status in (409, 503)


def test_x_accel_header_from_the_bot(make_server):
    """Without nginx: the bot's own answer is 200, empty, with the
    encoded path under offload_prefix, for GET and HEAD."""
    s = make_server({"a dir/na me?%.bin": b"x" * 5000},
                    "offload = x-accel\noffload_prefix = /files-x\n")
    path = s.url("a dir/na me?%.bin")
    for method in ("GET", "HEAD"):
        r, body = s.request(method, path)
        assert r.status == 200 and body == b""
        assert r.getheader("X-Accel-Redirect") == \
            "/files-x/a%20dir/na%20me%3F%25.bin"
        assert r.getheader("Content-Disposition").startswith("attachment")
        assert r.getheader("Content-Length") == "0"


def stalled_download(port, path, source):
    """Starts a GET from source and reads nothing: the bot's request stays
    in progress once every buffer on the way is full."""
    sock = socket.create_connection(("127.0.0.1", port), 30,
                                    source_address=(source, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    # Its status line first: the transfer has started before the caller
    # sends anything else from this source (else a probe from the same
    # client could take the one place first, and this one get 503).
    head = b""
    while len(head) < 12:
        chunk = sock.recv(12 - len(head))
        assert chunk, head
        head += chunk
    assert head == b"HTTP/1.1 200", head
    return sock


def test_limits_per_forwarded_client(front):
    s, n = front({"big.bin": BIG, "small.txt": b"hello\n"},
                 "max_per_ip = 1\n")
    big, small = s.url("big.bin"), s.url("small.txt")
    held = stalled_download(n.port, big, "127.0.0.2")
    try:
        # Client .2 has its one request in progress: the next is refused
        # (the bot counted it for .2, not for nginx's own address).
        deadline = time.time() + 30
        while True:
            r, body = get(n.port, small, source="127.0.0.2")
            if r.status == 503 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.status == 503, r.status
        assert r.getheader("Retry-After") is not None
        # Client .3 is another client: served, through the same nginx.
        r, body = get(n.port, small, source="127.0.0.3")
        assert r.status == 200 and body == b"hello\n"
        # A client cannot pose as another by sending its own header: nginx
        # appends the real address, the rightmost untrusted one.
        r, body = get(n.port, small, {"X-Forwarded-For": "127.0.0.3"},
                      source="127.0.0.2")
        assert r.status == 503
        r, body = get(n.port, small, {"X-Forwarded-For": "garbage, ::1"},
                      source="127.0.0.2")
        assert r.status == 503
    finally:
        held.close()
    # Once .2's transfer is gone, .2 is served again.
    deadline = time.time() + 30
    while time.time() < deadline:
        r, body = get(n.port, small, source="127.0.0.2")
        if r.status == 200:
            break
        time.sleep(0.2)
    assert r.status == 200 and body == b"hello\n"


def test_direct_clients_still_limited_per_address(make_server):
    """A peer that is not a trusted proxy: its X-Forwarded-For is
    ignored, its connections count against its own address."""
    s = make_server({"small.txt": b"hello\n"},
                    "max_per_ip = 1\ntrusted_proxies = 127.0.0.9\n")
    path = s.url("small.txt")
    c1 = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20,
                                    source_address=("127.0.0.2", 0))
    c1.connect()
    try:
        time.sleep(0.3)
        r, _ = get(s.port, path, {"X-Forwarded-For": "10.1.2.3"},
                   source="127.0.0.2")
        assert r.status == 503
    finally:
        c1.close()


def test_x_accel_over_https(front, tmp_path):
    """nginx terminates TLS and sends the file (bytes, Range) after the
    bot's check."""
    cert, key = tmp_path / "n.crt", tmp_path / "n.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    s, n = front(NAMES, "offload = x-accel\n", tls=(cert, key))
    url = f"https://127.0.0.1:{n.port}" + s.url("plain.bin")
    r = subprocess.run(["curl", "-sS", "--cacert", str(cert), url],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == NAMES["plain.bin"], r.stderr
    r = subprocess.run(["curl", "-sS", "--cacert", str(cert), "-r",
                        "100-199", url], capture_output=True, timeout=60)
    assert r.stdout == NAMES["plain.bin"][100:200]
    bad = url.replace("/f/", "/f/A", 1)
    r = subprocess.run(["curl", "-sS", "--cacert", str(cert), "-o",
                        "/dev/null", "-w", "%{http_code}", bad],
                       capture_output=True, timeout=60)
    assert r.stdout in (b"403", b"404")
