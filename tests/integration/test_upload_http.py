"""Integration tests of uploads over real HTTP.

Each test runs tests/integration/upload_server_main.c: the indexer
watching a temporary share, the HTTP server with its PUT side, and
upload_offer, the function behind the `upload` chat command (the chat
side is in test_upload.py). Uploads go through http.client and raw
sockets; what lands in the catalogue is checked with `fisbot info` and
with the database itself.
"""
import base64
import hashlib
import http.client
import os
import socket
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest_shared import FISBOT_BIN, write_config

BUILD = os.environ.get("FISBOT_BUILD_DIR", "")
SERVER_BIN = os.path.join(BUILD, "tests", "upload_server") if BUILD \
    else "upload_server"
ALICE = "alice@example.org"


class Server:
    """A share, a catalogue, and a running upload server."""

    def __init__(self, root: Path, upload: str = "", http: str = "",
                 before_start=None):
        self.root = root
        self.share = root / "share"
        self.share.mkdir()
        self.incoming = self.share / "incoming"
        self.config = write_config(root, f"""
            [xmpp]
            jid = bot@localhost
            password = secret

            [share]
            path = share
            database = fisbot.db
            settle = 100ms

            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080
            {http}

            [upload]
            enabled = yes
            allow = {ALICE}, friends.example
            {upload}

            [log]
            level = info
            """)
        if before_start is not None:
            before_start(self)
        self.log = root / "server.log"
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "-c", str(self.config)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.logf)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("port "), (line, self.log_text())
        self.port = int(line.split()[1])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def command(self, line: str) -> str:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().decode().rstrip("\n")
        assert out, self.log_text()
        return out

    def offer(self, name: str, size: int, jid: str = ALICE, at=None) -> str:
        """Returns the path part of a fresh upload URL."""
        verb = "offer" if at is None else f"offer@{int(at)}"
        out = self.command(f"{verb} {jid} {size} {name}")
        assert out.startswith("url "), out
        url = urllib.parse.urlsplit(out[4:])
        assert url.path.startswith("/u/")
        return url.path

    def refused(self, name: str, size: int, jid: str = ALICE) -> str:
        out = self.command(f"offer {jid} {size} {name}")
        assert out.startswith("refused "), out
        return out[len("refused "):]

    def idle(self):
        assert self.command("idle") == "idle"

    def conn(self, timeout=30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def put(self, path: str, body: bytes, headers=None):
        """PUTs body; returns (status, text, headers)."""
        c = self.conn()
        c.request("PUT", path, body=body, headers=headers or {})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, text, r

    def put_headers_only(self, path: str, headers: dict):
        """Sends only the headers of a PUT; returns (status, text)."""
        c = self.conn()
        c.putrequest("PUT", path)
        for k, v in headers.items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, text

    def row(self, path: str):
        """Returns (uploader, size) from the catalogue, or None."""
        db = sqlite3.connect(f"file:{self.root / 'fisbot.db'}?mode=ro",
                             uri=True)
        try:
            # Paths are stored as bytes (BLOB).
            return db.execute("SELECT uploader, size FROM files "
                              "WHERE path = ?",
                              (os.fsencode(path),)).fetchone()
        finally:
            db.close()

    def info(self, path: str) -> dict:
        r = subprocess.run([FISBOT_BIN, "info", "-c", str(self.config),
                            path], capture_output=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        out = {}
        for line in r.stdout.decode().splitlines():
            k, _, v = line.partition(": ")
            out[k] = v
        return out

    def leftovers(self):
        """Every entry of the upload folder (hidden ones included)."""
        if not self.incoming.exists():
            return []
        return sorted(os.listdir(self.incoming))

    def stop(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        self.logf.close()
        assert rc == 0, (rc, self.log_text())


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, upload="max_file_size = 200M\nquota = 1G")
    yield s
    s.stop()


def repr_digest(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(
        hashlib.sha256(data).digest()).decode() + ":"


def test_upload_is_stored_catalogued_with_uploader(server):
    data = b"hello upload\n" * 100
    path = server.offer("hello.txt", len(data))
    status, text, r = server.put(path, data)
    assert status == 201, text
    assert text == "stored as incoming/hello.txt\n"
    assert r.getheader("Repr-Digest") == repr_digest(data)
    assert (server.incoming / "hello.txt").read_bytes() == data
    assert server.leftovers() == ["hello.txt"]
    server.idle()
    assert server.row("incoming/hello.txt") == (ALICE, len(data))
    info = server.info("incoming/hello.txt")
    assert info["sha-256"] == hashlib.sha256(data).hexdigest()


def test_token_is_one_time(server):
    path = server.offer("once.bin", 3)
    assert server.put(path, b"abc")[0] == 201
    status, text, _ = server.put(path, b"abc")
    assert status == 409, text
    assert "already used" in text
    assert server.leftovers() == ["once.bin"]


def test_empty_file(server):
    status, text, r = server.put(server.offer("empty", 0), b"")
    assert status == 201, text
    assert (server.incoming / "empty").read_bytes() == b""
    assert r.getheader("Repr-Digest") == repr_digest(b"")
    server.idle()
    assert server.row("incoming/empty") == (ALICE, 0)


def test_taken_name_gets_a_suffix(server):
    server.incoming.mkdir()
    (server.incoming / "song.ogg").write_bytes(b"original")
    for i, want in enumerate(["song (1).ogg", "song (2).ogg"]):
        data = f"upload {i}".encode()
        status, text, _ = server.put(server.offer("song.ogg", len(data)),
                                     data)
        assert status == 201, text
        assert text == f"stored as incoming/{want}\n"
        assert (server.incoming / want).read_bytes() == data
    assert (server.incoming / "song.ogg").read_bytes() == b"original"


def test_name_is_made_safe(server):
    data = b"x"
    path = server.offer("../../.evil/name", 1)
    assert path.endswith("/evil_name") or path.endswith("/_.._.evil_name"), path
    status, text, _ = server.put(path, data)
    assert status == 201, text
    stored = text[len("stored as incoming/"):].rstrip("\n")
    assert "/" not in stored and not stored.startswith(".")
    assert (server.incoming / stored).read_bytes() == data
    assert server.refused("x.part", 1).startswith(
        'files named like "x.part" are not shared')
    assert server.refused("..", 1).startswith("the name is empty")


def test_content_length_must_match(server):
    path = server.offer("exact.bin", 10)
    # Smaller: 400. Larger: 413. Neither uses up the token.
    status, text, _ = server.put(path, b"123456789")
    assert status == 400, text
    status, text = server.put_headers_only(path, {"Content-Length": "11"})
    assert status == 413, text
    status, text = server.put_headers_only(path,
                                           {"Content-Length": "10x"})
    assert status == 400, text
    # No Content-Length at all (chunked): 400.
    c = server.conn()
    c.putrequest("PUT", path)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    c.send(b"a\r\n0123456789\r\n0\r\n\r\n")
    r = c.getresponse()
    assert r.status == 400, r.read()
    c.close()
    assert server.leftovers() == []
    status, text, _ = server.put(path, b"0123456789")
    assert status == 201, text


def test_over_max_file_size_at_put(tmp_path):
    s = Server(tmp_path, upload="max_file_size = 1K")
    try:
        assert s.refused("big", 1025) == \
            "too large: 1.0 KiB (1025 bytes); the limit is 1.0 KiB"
        path = s.offer("ok", 1024)
        assert s.put(path, b"x" * 1024)[0] == 201
    finally:
        s.stop()


def test_bad_tokens(server):
    path = server.offer("t.bin", 1)
    tok, name = path[3:].split("/", 1)
    # Another name than the one signed: 403.
    assert server.put(f"/u/{tok}/other.bin", b"x")[0] == 403
    # A changed character in the token: 403 or 404, never stored.
    flipped = tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:]
    assert server.put(f"/u/{flipped}/{name}", b"x")[0] in (403, 404)
    # Garbage and a missing name: 404.
    assert server.put("/u/notatoken/x", b"x")[0] == 404
    assert server.put(f"/u/{tok}", b"x")[0] == 404
    # Other methods on an upload URL: 405 with Allow.
    c = server.conn()
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    assert r.status == 405 and r.getheader("Allow") == "PUT"
    c.close()
    # The token is still good.
    assert server.put(path, b"x")[0] == 201
    assert server.leftovers() == ["t.bin"]


def test_link_and_upload_tokens_do_not_mix(server):
    data = b"served file"
    path = server.offer("served.txt", len(data))
    assert server.put(path, data)[0] == 201
    server.idle()
    r = subprocess.run([FISBOT_BIN, "url", "-c", str(server.config),
                        "incoming/served.txt"], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    link = urllib.parse.urlsplit(r.stdout.decode().strip()).path
    assert link.startswith("/f/")
    link_tok = link.split("/")[2]
    # A download token as an upload token, and the other way round.
    assert server.put(f"/u/{link_tok}/served.txt", b"x")[0] == 404
    up_tok = server.offer("z", 1).split("/")[2]
    c = server.conn()
    c.request("GET", f"/f/{up_tok}/z")
    assert c.getresponse().status == 404
    c.close()


def test_expired_and_before_restart(server):
    now = time.time()
    expired = server.offer("late.bin", 1, at=now - 400)
    status, text, _ = server.put(expired, b"x")
    assert status == 410 and "expired" in text, text
    # Still valid by its date, but made before this process started: it
    # may have been used already, so it is refused.
    old = server.offer("old.bin", 1, at=now - 120)
    status, text, _ = server.put(old, b"x")
    assert status == 410 and "restarted" in text, text
    assert server.leftovers() == []


def test_concurrent_puts_one_wins(server):
    data = os.urandom(64 * 1024)
    path = server.offer("race.bin", len(data))
    a = socket.create_connection(("127.0.0.1", server.port))
    # "100 Continue" comes once the server has claimed the token.
    a.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\n"
              f"Expect: 100-continue\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode())
    a.settimeout(30)
    assert a.recv(4096).startswith(b"HTTP/1.1 100 Continue")
    a.sendall(data[:1000])
    status, text, _ = server.put(path, data)
    assert status == 409, text
    assert "in progress" in text
    a.sendall(data[1000:])
    reply = a.recv(4096).decode()
    a.close()
    assert reply.startswith("HTTP/1.1 201"), reply
    assert (server.incoming / "race.bin").read_bytes() == data
    assert server.put(path, data)[0] == 409


def test_quota_exactly_at_the_limit(tmp_path):
    s = Server(tmp_path, upload="max_file_size = 64K\nquota = 96K")
    try:
        first = os.urandom(64 * 1024)
        assert s.put(s.offer("a.bin", len(first)), first)[0] == 201
        # Two URLs for 32 KiB each: both fit by the catalogue alone...
        p1 = s.offer("b.bin", 32 * 1024)
        p2 = s.offer("c.bin", 32 * 1024)
        # ...but once one is stored, the other would pass the quota, even
        # before the indexer has catalogued the first: 413.
        assert s.put(p1, b"b" * 32 * 1024)[0] == 201
        status, text, _ = s.put(p2, b"c" * 32 * 1024)
        assert status == 413 and "quota" in text, text
        s.idle()
        # Exactly full: one more byte is refused; other people are not
        # affected.
        assert s.refused("d.bin", 1) == (
            "over your quota: you store 96.0 KiB of 96.0 KiB, and this "
            "file needs 1 B")
        assert s.put(s.offer("e.bin", 1, jid="bob@friends.example"),
                     b"e")[0] == 201
        s.idle()
        assert s.row("incoming/e.bin")[0] == "bob@friends.example"
        # Deleting one's file frees the quota (once the watcher has told
        # the indexer).
        (s.incoming / "b.bin").unlink()
        deadline = time.monotonic() + 30
        while s.row("incoming/b.bin") is not None:
            assert time.monotonic() < deadline, s.log_text()
            time.sleep(0.05)
        assert s.put(s.offer("f.bin", 32 * 1024), b"f" * 32 * 1024)[0] \
            == 201
    finally:
        s.stop()


def test_not_allowed_and_unknown_jid(server):
    assert server.refused("x", 1, jid="mallory@example.org") == \
        "you are not allowed to upload"
    assert server.refused("x", 1, jid="-").startswith(
        "uploads need your real JID")


def test_slow_body_times_out_and_leaves_nothing(tmp_path):
    s = Server(tmp_path, upload="quota = 1G", http="timeout = 2s")
    try:
        data = os.urandom(100 * 1024)
        path = s.offer("slow.bin", len(data))
        a = socket.create_connection(("127.0.0.1", s.port))
        a.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n".encode()
                  + data[:50000])
        a.settimeout(30)
        # The server gives up on the stalled body and closes.
        assert a.recv(4096) == b""
        a.close()
        assert s.leftovers() == []
        assert "timed out" in s.log_text()
        # The token was given back: a complete upload still works.
        status, text, _ = s.put(path, data)
        assert status == 201, text
        assert s.leftovers() == ["slow.bin"]
    finally:
        s.stop()


def test_client_gone_leaves_nothing(server):
    data = os.urandom(200 * 1024)
    path = server.offer("gone.bin", len(data))
    a = socket.create_connection(("127.0.0.1", server.port))
    a.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode()
              + data[:100000])
    time.sleep(0.3)
    a.close()
    for _ in range(100):
        if "connection closed" in server.log_text():
            break
        time.sleep(0.1)
    assert server.leftovers() == []


def test_100_mib_upload_sha256(server):
    size = 100 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    h = hashlib.sha256()
    for _ in range(100):
        h.update(block)
    path = server.offer("big.bin", size)
    c = server.conn(timeout=120)
    c.putrequest("PUT", path)
    c.putheader("Content-Length", str(size))
    c.endheaders()
    for _ in range(100):
        c.send(block)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    assert r.status == 201, text
    sent = h.hexdigest()
    assert r.getheader("Repr-Digest") == "sha-256=:" + base64.b64encode(
        h.digest()).decode() + ":"
    server.idle()
    info = server.info("incoming/big.bin")
    assert info["sha-256"] == sent
    assert info["size"].endswith(f"({size} bytes)")
    assert server.row("incoming/big.bin")[0] == ALICE


def mount_tmpfs(s: Server):
    """Mounts a 256 KiB tmpfs as the upload folder, or skips."""
    s.incoming.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k",
                        "fisbot-test", str(s.incoming)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs to fill (needs root and "
                    "CAP_SYS_ADMIN): " + r.stderr.decode().strip())


def test_disk_full_507_and_nothing_left(tmp_path):
    s = Server(tmp_path, upload="max_file_size = 10M",
               before_start=mount_tmpfs)
    try:
        data = os.urandom(1024 * 1024)
        path = s.offer("huge.bin", len(data))
        status, text, _ = s.put(path, data)
        assert status == 507, text
        assert s.leftovers() == []
        # Space is still there for what fits, with the same URL's token
        # given back; and a small file still goes in.
        small = b"fits"
        assert s.put(s.offer("small.bin", len(small)), small)[0] == 201
        assert s.leftovers() == ["small.bin"]
    finally:
        s.stop()
        subprocess.run(["umount", str(s.incoming)])
