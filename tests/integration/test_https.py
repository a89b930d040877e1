"""HTTPS served by the bot itself ([http] tls_cert / tls_key, with
libmicrohttpd's GnuTLS): downloads checked with curl --cacert against
certificates made here by openssl, SIGHUP reloading the pair (a new
connection gets the new certificate, a bad new pair keeps the old one),
and clear errors at start for unusable files."""
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from http_proc import SERVER_BIN, make_server  # noqa: F401

DATA = bytes(range(256)) * 1000 + b"end"  # 256003 bytes: read in blocks
SMALL = b"small file\n"


def make_cert(d: Path, name: str) -> tuple:
    """A self-signed certificate for 127.0.0.1 and its key, in d."""
    cert, key = d / f"{name}.crt", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    return cert, key


def curl(url, cacert, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--cacert", str(cacert),
                           "--max-time", "30", *args, url],
                          capture_output=True, timeout=60)


def peer_cert(port, cacert) -> bytes:
    """The DER certificate a new connection gets (verified by cacert)."""
    ctx = ssl.create_default_context(cafile=str(cacert))
    with socket.create_connection(("127.0.0.1", port), 20) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


@pytest.fixture
def tls_server(make_server, tmp_path):
    cert, key = make_cert(tmp_path, "first")
    live_c, live_k = tmp_path / "live.crt", tmp_path / "live.key"
    live_c.write_bytes(cert.read_bytes())
    live_k.write_bytes(key.read_bytes())
    s = make_server({"f.bin": DATA, "s.txt": SMALL},
                    f"tls_cert = {live_c}\ntls_key = {live_k}\n")
    return s, live_c, live_k, cert


def test_https_get_head_range(tls_server):
    s, _, _, cert = tls_server
    base = f"https://127.0.0.1:{s.port}"
    for name, data in (("f.bin", DATA), ("s.txt", SMALL)):
        url = base + s.url(name)
        r = curl(url, cert)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data
        r = curl(url, cert, "-I")
        assert r.returncode == 0, r.stderr
        head = r.stdout.decode()
        assert head.startswith("HTTP/1.1 200")
        assert f"Content-Length: {len(data)}\r\n" in head
        assert "ETag: \"" + hashlib.sha256(data).hexdigest() in head
        r = curl(url, cert, "-D", "-", "-r", "3-7")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(b"HTTP/1.1 206")
        assert r.stdout.endswith(b"\r\n\r\n" + data[3:8])
    # A plain-HTTP request to the HTTPS port gets no file.
    r = subprocess.run(["curl", "-sS", "--max-time", "20",
                        f"http://127.0.0.1:{s.port}" + s.url("s.txt")],
                       capture_output=True, timeout=60)
    assert SMALL not in r.stdout
    # And a client that does not trust the certificate refuses it.
    r = subprocess.run(["curl", "-sS", "--max-time", "20",
                        base + s.url("s.txt")], capture_output=True,
                       timeout=60)
    assert r.returncode != 0


def test_https_reload(tls_server, tmp_path):
    s, live_c, live_k, first = tls_server
    assert peer_cert(s.port, first) == der(first)
    # A connection open before the reload keeps working.
    ctx = ssl.create_default_context(cafile=str(first))
    old = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port),
                                                   20),
                          server_hostname="127.0.0.1")
    second, second_key = make_cert(tmp_path, "second")
    live_c.write_bytes(second.read_bytes())
    live_k.write_bytes(second_key.read_bytes())
    s.proc.send_signal(signal.SIGHUP)
    assert "reloaded" in s.wait_log("reloaded")
    assert peer_cert(s.port, second) == der(second)
    r = curl(f"https://127.0.0.1:{s.port}" + s.url("f.bin"), second)
    assert r.returncode == 0 and r.stdout == DATA, r.stderr
    old.sendall(f"GET {s.url('s.txt')} HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n".encode())
    got = b""
    while (chunk := old.recv(65536)):
        got += chunk
    old.close()
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(SMALL)
    # A new pair that does not match: refused, the old one stays.
    third, third_key = make_cert(tmp_path, "third")
    live_c.write_bytes(third.read_bytes())  # second's key stays
    s.proc.send_signal(signal.SIGHUP)
    log = s.wait_log("reload failed")
    assert "tls_key is not the key of the first certificate" in log
    assert "the old certificate and key stay" in log
    assert peer_cert(s.port, second) == der(second)
    # A missing key: refused too, with the file named.
    live_c.write_bytes(third.read_bytes())
    os.unlink(live_k)
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while s.log_text().count("reload failed") < 2 and \
            time.time() < deadline:
        time.sleep(0.05)
    assert "live.key: No such file or directory" in s.log_text()
    assert peer_cert(s.port, second) == der(second)


@pytest.mark.parametrize("problem", ["missing", "mismatch", "garbage",
                                     "no-key"])
def test_https_bad_pair_at_start(tmp_path, problem):
    """The server does not start, and says why."""
    cert, key = make_cert(tmp_path, "a")
    other, other_key = make_cert(tmp_path, "b")
    share = tmp_path / "share"
    share.mkdir()
    (share / "f").write_bytes(b"x")
    want = {"missing": "tls_cert: ", "mismatch": "tls_key is not the key",
            "garbage": "tls_cert: no PEM certificate",
            "no-key": "tls_key: no usable PEM private key"}[problem]
    if problem == "missing":
        cert = tmp_path / "nope.crt"
    elif problem == "mismatch":
        key = other_key
    elif problem == "garbage":
        cert = tmp_path / "garbage.crt"
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    else:
        key = tmp_path / "empty.key"
        key.write_text("")
    conf = tmp_path / "fisbot.conf"
    conf.write_text(f"""[xmpp]
jid = bot@localhost
password = secret
[share]
path = share
database = fisbot.db
settle = 0
[http]
listen = 127.0.0.1:0
tls_cert = {cert}
tls_key = {key}
""")
    r = subprocess.run([SERVER_BIN, "-c", str(conf)], capture_output=True,
                       timeout=120)
    assert r.returncode != 0
    assert b"port " not in r.stdout
    assert want in r.stderr.decode(), r.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_daemon_https_and_sighup(tmp_path):
    """The real daemon (its XMPP server a closed port: it keeps retrying
    while it serves): HTTPS from the start, SIGHUP reloading the pair, a
    bad pair refused with the old one kept; a bad pair at start stops it
    with the reason."""
    from conftest_shared import FISBOT_BIN
    first, first_key = make_cert(tmp_path, "first")
    second, second_key = make_cert(tmp_path, "second")
    live_c, live_k = tmp_path / "live.crt", tmp_path / "live.key"
    live_c.write_bytes(first.read_bytes())
    live_k.write_bytes(first_key.read_bytes())
    (tmp_path / "share").mkdir()
    conf = tmp_path / "fisbot.conf"
    conf.write_text(f"""[xmpp]
jid = bot@localhost
password = secret
server = 127.0.0.1:{closed_port()}
[share]
path = share
database = fisbot.db
[http]
listen = 127.0.0.1:0
tls_cert = live.crt
tls_key = live.key
""")
    logf = tmp_path / "fisbot.log"
    with open(logf, "wb") as log:
        proc = subprocess.Popen([FISBOT_BIN, "-v", "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=log)

    def wait(text, count=1):
        deadline = time.time() + 30
        while time.time() < deadline:
            t = logf.read_text(errors="replace")
            if t.count(text) >= count:
                return t
            assert proc.poll() is None, t
            time.sleep(0.05)
        raise AssertionError(f"never logged {text!r}: " + t)
    try:
        log = wait(", HTTPS)")
        port = int(log.split(", HTTPS)")[0].rsplit("port ", 1)[1].split()[0])
        assert peer_cert(port, first) == der(first)
        live_c.write_bytes(second.read_bytes())
        live_k.write_bytes(second_key.read_bytes())
        proc.send_signal(signal.SIGHUP)
        wait("reloaded the certificate and key")
        assert peer_cert(port, second) == der(second)
        live_k.write_bytes(first_key.read_bytes())  # not second's key
        proc.send_signal(signal.SIGHUP)
        log = wait("reload: [http] tls_key is not the key")
        assert "the old certificate and key stay" in log
        assert peer_cert(port, second) == der(second)
        # What is read once at start says so on reload.
        conf.write_text(conf.read_text() + "trusted_proxies = 127.0.0.1\n")
        proc.send_signal(signal.SIGHUP)
        wait("load changes take effect at the next start")
    finally:
        proc.terminate()
        rc = proc.wait(30)
    assert rc == 0, logf.read_text(errors="replace")[-2000:]
    # At start: the bot does not run with a bad pair, and says why.
    r = subprocess.run([FISBOT_BIN, "-c", str(conf)], capture_output=True,
                       timeout=60)
    assert r.returncode == 1
    assert b"tls_key is not the key of the first certificate" in r.stderr
