"""Integration tests of the HTTP file server over real HTTP.

Each test runs the server (tests/integration/http_server_main.c: the same
http_start the bot uses, wired to the real indexer, which catalogues and
hashes a temporary share first) on a loopback port, gets links with
`fisbot url`, and talks to it with http.client and raw sockets.
"""
import asyncio
import base64
import email.utils
import hashlib
import os
import random
import socket
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

from conftest_shared import FISBOT_BIN, sanitized
from http_proc import BASE, SERVER_BIN, make_server  # noqa: F401


CONTENT = bytes(range(256)) * 40 + b"tail"  # 10244 bytes


def sha(data):
    return hashlib.sha256(data).digest()


def check_file_headers(r, path: Path, data: bytes, name: str):
    h = r.headers
    assert h["Content-Length"] == str(len(data))
    assert h["Accept-Ranges"] == "bytes"
    assert h["ETag"] == '"' + sha(data).hex() + '"'
    assert h["Repr-Digest"] == \
        "sha-256=:" + base64.b64encode(sha(data)).decode() + ":"
    assert h["Last-Modified"] == \
        email.utils.formatdate(int(path.stat().st_mtime), usegmt=True)
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Security-Policy"] == "default-src 'none'"
    assert h["Referrer-Policy"] == "no-referrer"
    cd = h["Content-Disposition"]
    assert cd.startswith('attachment; filename="')
    star = cd.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(star, errors="strict") == name


def test_get_and_head_headers(make_server):
    s = make_server({"docs/hello.txt": CONTENT, "b.bin": b"x" * 10})
    path = s.url("docs/hello.txt")
    r, body = s.request("GET", path)
    assert r.status == 200
    assert body == CONTENT
    info = subprocess.run([FISBOT_BIN, "info", "-c", str(s.config),
                           "docs/hello.txt"], capture_output=True, timeout=60)
    mtype = [line.split(": ", 1)[1] for line in
             info.stdout.decode().splitlines() if line.startswith("type: ")]
    assert r.headers["Content-Type"] == mtype[0]
    check_file_headers(r, s.share / "docs/hello.txt", CONTENT, "hello.txt")
    r2, body2 = s.request("HEAD", path)
    assert r2.status == 200
    assert body2 == b""
    check_file_headers(r2, s.share / "docs/hello.txt", CONTENT, "hello.txt")
    ignore = {"Date"}
    assert {k: v for k, v in r.headers.items() if k not in ignore} == \
        {k: v for k, v in r2.headers.items() if k not in ignore}
    # The name in the URL is only for the eyes.
    r3, body3 = s.request("GET", path.rsplit("/", 1)[0] + "/other-name.bin")
    assert r3.status == 200 and body3 == CONTENT
    r4, body4 = s.request("GET", path.rsplit("/", 1)[0])
    assert r4.status == 200 and body4 == CONTENT
    log = s.wait_log("HEAD 200 0")
    assert "GET 200 10244" in log
    assert "HEAD 200 0" in log
    assert path.split("/")[2] not in log  # tokens are never logged


def test_zero_byte_file(make_server):
    s = make_server({"empty": b""})
    path = s.url("empty")
    for method in ("GET", "HEAD"):
        r, body = s.request(method, path)
        assert r.status == 200 and body == b""
        check_file_headers(r, s.share / "empty", b"", "empty")
    r, body = s.request("GET", path, {"Range": "bytes=0-"})
    assert r.status == 200 and body == b""


def test_ranges_and_conditionals(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    size = len(CONTENT)
    for hdr, lo, hi in [("bytes=0-0", 0, 0), ("bytes=-1", size - 1, size - 1),
                        ("bytes=100-", 100, size - 1),
                        ("bytes=10-19", 10, 19),
                        ("bytes=0-99999999", 0, size - 1),
                        ("bytes=0-9,5-19", 0, 19)]:
        r, body = s.request("GET", path, {"Range": hdr})
        assert r.status == 206, hdr
        assert body == CONTENT[lo:hi + 1], hdr
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{size}"
        assert r.headers["Content-Length"] == str(hi - lo + 1)
    for hdr in ("bytes=5-4", "bytes=abc", "items=0-1", "bytes=0-1,10-11"):
        r, body = s.request("GET", path, {"Range": hdr})
        assert r.status == 200 and body == CONTENT, hdr
    r, body = s.request("GET", path, {"Range": f"bytes={size}-"})
    assert r.status == 416
    assert r.headers["Content-Range"] == f"bytes */{size}"
    # HEAD ignores Range (RFC 9110 §14.2).
    r, body = s.request("HEAD", path, {"Range": "bytes=0-0"})
    assert r.status == 200 and r.headers["Content-Length"] == str(size)

    etag = '"' + sha(CONTENT).hex() + '"'
    lm = email.utils.formatdate(int((s.share / "f.bin").stat().st_mtime),
                                usegmt=True)
    r, body = s.request("GET", path, {"Range": "bytes=0-0", "If-Range": etag})
    assert r.status == 206 and body == CONTENT[:1]
    r, body = s.request("GET", path, {"Range": "bytes=0-0", "If-Range": lm})
    assert r.status == 206
    r, body = s.request("GET", path,
                        {"Range": "bytes=0-0", "If-Range": '"other"'})
    assert r.status == 200 and body == CONTENT
    r, body = s.request("GET", path, {"Range": "bytes=0-0",
                                      "If-Range": "W/" + etag})
    assert r.status == 200

    for method in ("GET", "HEAD"):
        r, body = s.request(method, path, {"If-None-Match": etag})
        assert r.status == 304 and body == b""
        assert r.headers["ETag"] == etag
        r, body = s.request(method, path, {"If-None-Match": '"x", ' + etag})
        assert r.status == 304
        r, body = s.request(method, path, {"If-None-Match": '"x"'})
        assert r.status == 200
        r, body = s.request(method, path, {"If-Modified-Since": lm})
        assert r.status == 304
        r, body = s.request(method, path, {
            "If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
        assert r.status == 200
        # If-None-Match wins over If-Modified-Since.
        r, body = s.request(method, path, {"If-None-Match": '"x"',
                                           "If-Modified-Since": lm})
        assert r.status == 200


def test_methods(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        r, _ = s.request(method, path)
        assert r.status == 405, method
        assert r.headers["Allow"] == "GET, HEAD"
    r, _ = s.request("GET", "/")
    assert r.status == 404
    # Upload URLs take PUT only (test_upload_http.py).
    r, _ = s.request("GET", "/u/whatever")
    assert r.status == 405
    assert r.headers["Allow"] == "PUT"


HOSTILE = [
    'quote"d.txt', "semi;colon; filename=evil.txt", "pct%41%2F.bin",
    "back\\slash", "ünïcødé ✓ 日本.pdf", "new\nline", "tab\there",
    "=?utf-8?q?x?=", "a'b", "  spaces  ", "emoji 😀.ogg", "*star*",
    "Café – Unicode.txt",
]


def test_hostile_names(make_server):
    files = {n: n.encode() * 3 for n in HOSTILE}
    files[b"bad-\xff\xfe.bin"] = b"invalid utf-8 name"
    s = make_server(files)
    for name in HOSTILE:
        path = s.url(name)
        # The URL's name segment decodes back to the name.
        assert urllib.parse.unquote(path.rsplit("/", 1)[1]) == name
        r, body = s.request("GET", path)
        assert r.status == 200, name
        assert body == name.encode() * 3
        check_file_headers(r, s.share / name, body, name)
        fallback = r.headers["Content-Disposition"].split('"')[1]
        assert all(0x20 <= ord(c) < 0x7f and c not in '"\\%'
                   for c in fallback)
        # The fallback is transliterated (iconv //TRANSLIT), not one "_"
        # per byte.
        if name == "Café – Unicode.txt":
            assert fallback == "Cafe - Unicode.txt"
        if name == "ünïcødé ✓ 日本.pdf":
            assert fallback.startswith("unic") and fallback.endswith(".pdf")
    path = s.url(os.fsdecode(b"bad-\xff\xfe.bin"))
    r, body = s.request("GET", path)
    assert r.status == 200 and body == b"invalid utf-8 name"


def test_symlink_swap_refused(make_server):
    s = make_server({"f.bin": CONTENT, "other.bin": b"secret",
                     "d/g.bin": b"g", "e/g.bin": b"e-secret"})
    path = s.url("f.bin")
    f = s.share / "f.bin"
    f.unlink()
    f.symlink_to(s.share / "other.bin")
    r, body = s.request("GET", path)
    assert r.status == 403
    assert b"secret" not in body
    # Reported stale, the file may have left the catalogue meanwhile: 404.
    f.unlink()
    f.symlink_to("/etc/passwd")
    for method in ("GET", "HEAD"):
        r, body = s.request(method, path)
        assert r.status in (403, 404) and b"root" not in body
    # A folder on the way replaced by a link is refused too.
    gpath = s.url("d/g.bin")
    (s.share / "d" / "g.bin").unlink()
    (s.share / "d").rmdir()
    (s.share / "d").symlink_to("e")
    r, body = s.request("GET", gpath)
    assert r.status in (403, 404) and b"e-secret" not in body
    assert "stale #" in s.wait_log("stale #")


def test_modified_after_hashing(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    with open(s.share / "f.bin", "r+b") as f:
        f.write(b"X")  # same size, new content and mtime
    os.utime(s.share / "f.bin", ns=(0, 123456789))
    r, body = s.request("GET", path)
    assert r.status == 409
    assert b"X" + CONTENT[1:] != body
    assert "stale #" in s.wait_log("stale #")
    # Being re-indexed (503), or re-indexed (403): the old link never
    # serves again.
    r, _ = s.request("HEAD", path)
    assert r.status in (403, 409, 503)
    if r.status == 503:
        assert r.headers["Retry-After"].isdigit()
    # Deleted: 404 (or 403 if the row was re-hashed meanwhile).
    os.unlink(s.share / "f.bin")
    r, _ = s.request("GET", path)
    assert r.status in (403, 404)


def test_bad_tokens(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    prefix, token, name = path.split("/")[1:]
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    rng = random.Random(1)
    c = s.conn()
    for i in range(len(token)):
        bad = token[:i] + rng.choice(alphabet.replace(token[i], "")) + \
            token[i + 1:]
        c.request("GET", f"/f/{bad}/{name}")
        r = c.getresponse()
        body = r.read()
        assert r.status in (403, 404), (i, r.status)
        assert body != CONTENT
    c.close()
    for p in [f"/f/{token[:-1]}/{name}", f"/f/{token}x/{name}", "/f/",
              "/f//x", f"/f/{token.lower()}/x"]:
        r, body = s.request("GET", p)
        assert r.status in (403, 404), p
    assert token not in s.log_text()


def test_expired_link(make_server):
    s = make_server({"f.bin": CONTENT}, "url_lifetime = 1s\n")
    path = s.url("f.bin")
    r, _ = s.request("HEAD", path)
    assert r.status in (200, 410)  # it may already have expired
    time.sleep(2.2)
    r, body = s.request("GET", path)
    assert r.status == 410


def test_never_expiring_link(make_server):
    s = make_server({"f.bin": CONTENT}, "url_lifetime = 0\n")
    r, body = s.request("GET", s.url("f.bin"))
    assert r.status == 200 and body == CONTENT


def raw_request(port, target: bytes) -> bytes:
    """Sends a raw request line; returns the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as so:
        so.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                   b"Connection: close\r\n\r\n")
        out = b""
        while True:
            chunk = so.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_traversal_and_nul(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin").encode()
    token = path.split(b"/")[2]
    for target in [b"/f/%2e%2e%2f%2e%2e%2fetc%2fpasswd", b"/f/..%2f..%2f",
                   b"/%2e%2e/%2e%2e/etc/passwd", b"/f/%00", b"/f/%00/x",
                   b"/../../etc/passwd", b"/f/" + token[:20] + b"%00" +
                   token[20:] + b"/x"]:
        out = raw_request(s.port, target)
        status = int(out.split(b" ", 2)[1])
        assert status in (400, 403, 404), (target, out[:100])
        assert b"root:" not in out
    # With a good token, whatever follows only names the file: same bytes.
    for tail in [b"/%2e%2e%2fetc%2fpasswd", b"/%00", b"/..%2f..%2f", b"%00",
                 b"%2f..%2f..%2fx"]:
        out = raw_request(s.port, b"/f/" + token + tail)
        assert out.startswith(b"HTTP/1.1 200"), tail
        assert out.endswith(CONTENT)


async def range_round(port, files, paths, seed, n):
    """Opens n connections at once, then sends one Range request on each
    and checks every slice; returns the number of good answers."""
    rng = random.Random(seed)
    names = sorted(files)
    conns = await asyncio.gather(*[
        asyncio.open_connection("127.0.0.1", port) for _ in range(n)])
    wanted = []
    for reader, writer in conns:
        name = rng.choice(names)
        data = files[name]
        lo = rng.randrange(len(data))
        hi = rng.randrange(lo, min(len(data), lo + 100000))
        writer.write(f"GET {paths[name]} HTTP/1.1\r\nHost: x\r\n"
                     f"Range: bytes={lo}-{hi}\r\n\r\n".encode())
        wanted.append((data[lo:hi + 1], f"bytes {lo}-{hi}/{len(data)}"))

    async def answer(reader, writer, want):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        hdrs = dict(l.split(": ", 1) for l in lines[1:] if ": " in l)
        body = await reader.readexactly(int(hdrs["Content-Length"]))
        writer.close()
        good = (lines[0].startswith("HTTP/1.1 206") and body == want[0]
                and hdrs["Content-Range"] == want[1])
        if not good:
            bad.append(lines[0])
        return good

    bad = []
    ok = await asyncio.gather(*[answer(r, w, want)
                                for (r, w), want in zip(conns, wanted)])
    if bad:
        print(f"round {seed}: {len(bad)} bad answers, e.g. {bad[:3]}")
    return sum(ok)


def test_concurrent_ranges_memory_flat(make_server):
    rng = random.Random(7)
    files = {f"f{i}.bin": rng.randbytes(1 << 20) for i in range(10)}
    # The limits leave room for a round's connections that the server has
    # not yet seen close when the next round opens its own: this test is
    # about slices and memory, the limits have tests of their own.
    s = make_server(files, "max_per_ip = 3000\nmax_connections = 3000\n")
    paths = {n: s.url(n) for n in files}
    # Memory is bounded by the connections, not by the bytes served: after
    # two warm-up rounds, six more rounds (about 300 MB sent, 6000 slices
    # of up to 100 KB) may move RSS by less than one connection pool (32
    # KiB) per simultaneous connection, allocator noise included; buffering
    # bodies would take gigabytes. Leaks are caught by the sanitizer build
    # (the server must exit cleanly, see Server.stop), where the quarantine
    # makes RSS meaningless.
    for seed in range(2):
        assert asyncio.run(range_round(s.port, files, paths, seed, 1000)) \
            == 1000
    base = s.rss_kib()
    peak = base
    for seed in range(2, 8):
        assert asyncio.run(range_round(s.port, files, paths, seed, 1000)) \
            == 1000
        peak = max(peak, s.rss_kib())
    print(f"RSS after warm-up {base} KiB, after rounds at most {peak} KiB, "
          f"high-water mark {s.rss_kib('VmHWM')} KiB")
    if not sanitized(SERVER_BIN):
        assert peak - base < 32 * 1024, (base, peak)


def test_slowloris_does_not_starve(make_server):
    s = make_server({"f.bin": CONTENT},
                    "max_per_ip = 100\nmax_connections = 200\ntimeout = 3s\n")
    path = s.url("f.bin")
    slow = []
    for _ in range(60):
        so = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        so.sendall(b"GET " + path.encode()[:10])
        slow.append(so)
    for so in slow:
        so.sendall(b"x")
    for _ in range(5):
        r, body = s.request("GET", path)
        assert r.status == 200 and body == CONTENT
    # The slow ones are dropped once the timeout has passed.
    time.sleep(4)
    for so in slow:
        so.settimeout(5)
        rest = b""
        while True:  # a 408 or nothing, then the end of the stream
            chunk = so.recv(1024)
            if not chunk:
                break
            rest += chunk
        assert rest == b"" or rest.startswith(b"HTTP/1.1 408"), rest
        so.close()


def test_per_ip_limit_503(make_server):
    s = make_server({"f.bin": CONTENT}, "max_per_ip = 4\n")
    path = s.url("f.bin")
    held = [s.conn() for _ in range(4)]
    for c in held:
        c.request("HEAD", path)
        resp = c.getresponse()
        resp.read()
        assert resp.status == 200  # kept alive: the connection stays open
    r, body = s.request("GET", path)
    assert r.status == 503
    assert r.headers["Retry-After"].isdigit()
    for c in held:
        c.close()
    # The places come free once the server has seen the closes.
    deadline = time.monotonic() + 10
    while True:
        r, body = s.request("GET", path)
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status == 200 and body == CONTENT


def test_accounting(make_server):
    s = make_server({"f.bin": CONTENT})
    path = s.url("f.bin")
    for _ in range(3):
        r, body = s.request("GET", path)
        assert r.status == 200
    s.request("HEAD", path)
    s.request("GET", path, {"Range": "bytes=0-9"})           # not to the end
    s.request("GET", path, {"Range": f"bytes={len(CONTENT) - 4}-"})  # to the end
    s.request("GET", path, {"If-None-Match": "*"})          # 304
    # Downloads are counted once sent, and written in batches: poll.
    want = 3 * len(CONTENT) + 10 + 4
    deadline = time.time() + 20
    while True:
        db = sqlite3.connect(s.root / "fisbot.db")
        (served,) = db.execute("SELECT bytes_served FROM files").fetchone()
        db.close()
        if served >= want or time.time() > deadline:
            break
        time.sleep(0.1)
    assert served == want
    r = subprocess.run([FISBOT_BIN, "info", "-c", str(s.config), "f.bin"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "downloads: 4\n" in r.stdout.decode()


def test_url_command(make_server):
    # No expiry: the same file always gets the same link.
    s = make_server({"a b/c&d.txt": b"hello"}, "url_lifetime = 0\n")

    def url(*args):
        return subprocess.run([FISBOT_BIN, "url", "-c", str(s.config),
                               *args], capture_output=True, timeout=60)
    r = url("a b/c&d.txt")
    assert r.returncode == 0
    link = r.stdout.decode()
    assert link.endswith("/c%26d.txt\n") and link.count("\n") == 1
    assert link.startswith(BASE + "/f/")
    assert len(link.split("/")[4]) == 44
    r2 = url("#1")
    assert r2.returncode == 0
    assert r2.stdout.decode().split("/")[4] == link.split("/")[4]
    r = url("999")
    assert r.returncode == 1
    assert r.stderr.decode() == "fisbot: no such file: 999\n"
    r = url("nope/none.txt")
    assert r.returncode == 1 and b"no such file" in r.stderr
    # A key file others can read is refused, with the way out.
    os.chmod(s.root / "fisbot.key", 0o644)
    r = url("1")
    assert r.returncode == 1
    assert b"fisbot.key" in r.stderr and b"chmod 600" in r.stderr
    os.chmod(s.root / "fisbot.key", 0o600)
