"""The transfers over real HTTP: bandwidth caps measured on real
downloads, download slots (503 with Retry-After, every connection of one
link sharing one slot, as aria2c -x8 makes them).

The server is tests/integration/http_server_main.c (http_proc.Server);
links come from `fisbot url` (no requester). Rates are asserted loosely
(a loaded 2-core machine): the benchmark (tests/bench/bench_http.sh)
reports the precise figures.
"""
import hashlib
import os
import subprocess
import threading
import time

from http_proc import make_server  # noqa: F401

MIB = 1024 * 1024
BIG = os.urandom(8 * MIB)


def download(s, path, out, key, headers=None, rate=None, started=None):
    """GETs path on a fresh connection; stores (seconds, bytes, sha) in
    out[key]. With rate (bytes/s), reads slowly. started (an Event) is set
    once the response's headers are in (the download holds its slot)."""
    t0 = time.monotonic()
    c = s.conn()
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    if started is not None:
        started.set()
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = r.read(64 * 1024)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
        if rate is not None:
            time.sleep(len(chunk) / rate)
    c.close()
    out[key] = (time.monotonic() - t0, n, h.hexdigest(), r.status)


def test_max_rate_shared(make_server):
    """max_rate = 2M: two concurrent downloads of an 8 MiB file share it
    evenly, the total within 15 % of the cap."""
    s = make_server({"big.bin": BIG}, "[transfers]\nmax_rate = 2M\n")
    path = s.url("big.bin")
    out = {}
    ts = [threading.Thread(target=download, args=(s, path, out, i))
          for i in range(2)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = time.monotonic() - t0
    want = hashlib.sha256(BIG).hexdigest()
    for i in range(2):
        assert out[i][1] == len(BIG) and out[i][2] == want
    rate = 2 * len(BIG) / total
    assert 0.85 * 2 * MIB <= rate <= 1.15 * 2 * MIB, rate
    # Fair: both end together (each had half of the cap).
    assert abs(out[0][0] - out[1][0]) < 0.25 * total, out


def test_download_rate(make_server):
    """download_rate = 1M: one connection at 1 MiB/s, and a second one
    alongside gets its own 1 MiB/s."""
    data = BIG[:3 * MIB]
    s = make_server({"f.bin": data}, "[transfers]\ndownload_rate = 1M\n")
    path = s.url("f.bin")
    out = {}
    ts = [threading.Thread(target=download, args=(s, path, out, i))
          for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(2):
        secs, n, _, status = out[i]
        assert status == 200 and n == len(data)
        assert 0.85 * MIB <= n / secs <= 1.15 * MIB, n / secs


def test_no_cap_is_fast(make_server):
    """Without caps, nothing is paced (8 MiB well under a second)."""
    s = make_server({"big.bin": BIG})
    out = {}
    download(s, s.url("big.bin"), out, 0)
    assert out[0][1] == len(BIG)
    assert out[0][0] < 3.0, out  # 2 MiB/s would take 4 s


def test_slots_503(make_server):
    """slots = 1: a second link gets 503 with Retry-After while the first
    is being downloaded; once it ended (and lingered), the second goes.
    The same link on another connection (a range) shares the slot."""
    s = make_server({"big.bin": BIG, "other.bin": BIG[:MIB]},
                    "[transfers]\nslots = 1\n")
    p1, p2 = s.url("big.bin"), s.url("other.bin")
    out = {}
    started = threading.Event()
    slow = threading.Thread(target=download,
                            args=(s, p1, out, "slow", None, 4 * MIB,
                                  started))
    slow.start()
    assert started.wait(20), "the first download never started"
    r, body = s.request("GET", p2)
    assert r.status == 503, r.status
    assert int(r.getheader("Retry-After")) > 0
    # The same link, another range: the same slot.
    r, body = s.request("GET", p1, {"Range": "bytes=0-99"})
    assert r.status == 206 and body == BIG[:100]
    # HEAD takes no slot.
    r, body = s.request("HEAD", p2)
    assert r.status == 200
    slow.join()
    assert out["slow"][1] == len(BIG)
    time.sleep(1.5)  # the slot lingers a second after the last byte
    r, body = s.request("GET", p2)
    assert r.status == 200 and body == BIG[:MIB]


def test_aria2c_segments_one_slot(make_server, tmp_path):
    """aria2c -x8 -s8 opens up to 8 connections with ranges on one link:
    with slots = 1 they all share the one slot and the file comes whole,
    paced by max_rate; meanwhile another link gets 503."""
    s = make_server({"big.bin": BIG, "other.bin": BIG[:MIB]},
                    "[transfers]\nslots = 1\nmax_rate = 4M\n")
    url = f"http://127.0.0.1:{s.port}" + s.url("big.bin")
    p2 = s.url("other.bin")
    proc = subprocess.Popen(
        ["aria2c", "-x8", "-s8", "-k1M", "--min-split-size=1M",
         "--allow-overwrite=true", "--auto-file-renaming=false",
         "--file-allocation=none", "--console-log-level=warn",
         "--summary-interval=0", "-d", str(tmp_path), "-o", "got.bin", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # aria2c creates the file once its first response is in: it holds the
    # slot from then on.
    deadline = time.monotonic() + 20
    while not (tmp_path / "got.bin").exists():
        assert time.monotonic() < deadline and proc.poll() is None, \
            "aria2c never started the download"
        time.sleep(0.02)
    r, _ = s.request("GET", p2)
    assert r.status == 503
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert (tmp_path / "got.bin").read_bytes() == BIG
    log = s.wait_log("GET 206")
    assert log.count("GET 206") >= 2, log  # segmented for real
    # The one 503 is the other link's: none of aria2c's was refused.
    assert log.count("GET 503") == 1, log
