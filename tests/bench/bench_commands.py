#!/usr/bin/python3
"""Chat-command benchmark (issue 5 item 8). Not a test: prints figures and
asserts nothing.

1. Builds a share of N files (default 1,000,000; sparse files in 1,000
   folders, names from a syllable dictionary) and a catalogue for it in bulk
   SQL, every row matching its file (size, mtime, inode) and already hashed,
   so the bot's start-up reconcile stats each file but hashes nothing.
2. Starts a private Prosody on loopback and fisbot on that share, with
   [limits] lifted, and waits until the bot is idle.
3. Round trip of `search` in a direct chat (message sent -> reply received
   by the client), R times per query: p50, p99, max. Requests are spaced
   by --gap seconds (default 0.25) so that the bot's output pacing (a token
   bucket of 20 stanzas, then 20 per second, in session.c) never delays a
   reply: the figures are the command's own cost plus Prosody and loopback.
   One warm-up request per query is not counted.
4. Commands per second with [limits] lifted: C commands sent at once; the
   time until the last reply arrives is bound by that output pacing, so the
   bot's CPU time for the batch is printed too (commands per CPU second:
   what the command path itself can handle). C (default 100) stays under
   what the fair queue holds for one requester (128 stanzas, session.c):
   past that the bot drops replies by design and the count never ends.

    /usr/bin/python3 tests/bench/bench_commands.py [-n FILES] [-r RUNS]
        [-c COMMANDS] [-d DIR] [--keep]

FISBOT_BIN and FISBOT_PLUGIN_DIR name the binary and plugins (default:
build/bot/fisbot and build/plugins). -d reuses a folder made by an earlier
run with --keep (the share and catalogue are then not generated again).
"""
import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
os.environ.setdefault("FISBOT_BIN", str(ROOT / "build/bot/fisbot"))
os.environ.setdefault("FISBOT_PLUGIN_DIR", str(ROOT / "build/plugins"))
sys.path.insert(0, str(ROOT / "tests/integration"))

from commands_fixture import Chat, Fisbot, Prosody, account  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba",
             "de", "fi", "go", "hu", "ja", "ke", "li", "mo", "nu", "pa",
             "qui", "re", "si", "to", "ul", "ve", "wa", "xi", "yo", "zu"]
KINDS = [("ogg", "audio/ogg"), ("mp3", "audio/mpeg"), ("flac", "audio/flac"),
         ("jpg", "image/jpeg"), ("png", "image/png"),
         ("pdf", "application/pdf"), ("txt", "text/plain"),
         ("mkv", "video/x-matroska")]
N_WORDS = 5000
FOLDERS = 1000


def words():
    out = []
    n = len(SYLLABLES)
    for i in range(N_WORDS):
        v, w = i, ""
        for _ in range(3):
            w += SYLLABLES[v % n]
            v //= n
        out.append(w)
    return out


def skewed(rng, n):
    """An index in [0, n) skewed towards 0 (roughly Zipf-like)."""
    u = rng.random()
    return int(n * u * u * u)


def generate(folder: Path, n: int) -> None:
    """Makes folder/share with n sparse files and folder/fisbot.db."""
    rng = random.Random(42)
    ws = words()
    share = folder / "share"
    share.mkdir()
    db = folder / "fisbot.db"
    t0 = time.monotonic()
    rows = []
    now = int(time.time())
    for d in range(FOLDERS):
        (share / f"d{d:03d}").mkdir()
    for i in range(n):
        d = i % FOLDERS
        ext, mtype = KINDS[rng.randrange(len(KINDS))]
        name = (f"{ws[skewed(rng, N_WORDS)]} {ws[skewed(rng, N_WORDS)]} "
                f"{ws[skewed(rng, N_WORDS)]} {i}.{ext}")
        rel = f"d{d:03d}/{name}"
        size = rng.randrange(1 << 10, 100 << 20)
        fd = os.open(share / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o644)
        os.ftruncate(fd, size)
        st = os.fstat(fd)
        os.close(fd)
        rows.append((rel.encode(), f"d{d:03d}".encode(), name.encode(),
                     name.lower(), rel.lower(), size, st.st_mtime_ns,
                     st.st_dev, st.st_ino, rng.randbytes(32), mtype,
                     now - n + i))
        if i % 100000 == 99999:
            print(f"\r{i + 1} files", end="", file=sys.stderr, flush=True)
    print(f"\rcreated {n} files in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)

    # The schema comes from fisbot itself: scan an empty share.
    empty = folder / "empty"
    empty.mkdir()
    conf = folder / "schema.conf"
    conf.write_text(f"[xmpp]\njid = x@localhost\npassword = x\n"
                    f"[share]\npath = {empty}\ndatabase = {db}\n"
                    f"[http]\nlisten = 127.0.0.1:1\n"
                    f"base_url = http://127.0.0.1:1\n")
    subprocess.run([os.environ["FISBOT_BIN"], "scan", "-c", str(conf)],
                   check=True, capture_output=True)
    t0 = time.monotonic()
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous = OFF")
    with con:
        con.executemany(
            "INSERT INTO dirs (path, parent, name, lname) VALUES (?,?,?,?)",
            [(f"d{d:03d}".encode(), b"", f"d{d:03d}".encode(), f"d{d:03d}")
             for d in range(FOLDERS)])
        con.executemany(
            "INSERT INTO files (path, dir, name, lname, lpath, size,"
            " mtime_ns, dev, ino, sha256, media_type, added)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        # The writer keeps the trigram index itself (no triggers): build
        # it in bulk.
        con.execute("INSERT INTO files_fts(files_fts) VALUES ('rebuild')")
    con.close()
    print(f"catalogued {n} files in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid: int, timeout: float = 900) -> float:
    """Waits until the process uses < 5% of a CPU over a second."""
    t0 = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")
    while time.monotonic() - t0 < timeout:
        a = cpu_ticks(pid)
        time.sleep(1)
        if cpu_ticks(pid) - a < 0.05 * hz:
            return time.monotonic() - t0
    return time.monotonic() - t0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000000, help="files")
    ap.add_argument("-r", type=int, default=100, help="runs per query")
    ap.add_argument("-c", type=int, default=100, help="commands for rate")
    ap.add_argument("--gap", type=float, default=0.25,
                    help="seconds between two timed requests")
    ap.add_argument("-d", help="work folder (reused if it has a share)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    folder = Path(a.d) if a.d else Path(tempfile.mkdtemp(
        prefix="fisbot-bench-cmd-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "share").exists():
        generate(folder, a.n)
    for d in ("prosody", "bot"):
        shutil.rmtree(folder / d, ignore_errors=True)

    prosody = Prosody(folder / "prosody").start()
    bot = Fisbot(folder / "bot", prosody, "bot", share=folder / "share",
                 database=folder / "fisbot.db", extra="""
[limits]
burst = 1000
rate = 1000000/s
""")
    alice = None
    try:
        t0 = time.monotonic()
        bot.start(900)
        alice = Chat(account(prosody, "alice"), prosody)

        def ask(body, timeout=60):
            alice.send(bot.jid, body)
            return alice.wait(lambda m: m.bare == bot.jid, timeout)

        ask("stats", 600)
        idle = wait_idle(bot.proc.pid)
        print(f"bot up and idle after {time.monotonic() - t0:.1f} s "
              f"(idle wait {idle:.1f} s)")
        print(ask("stats").body.replace("\n", "; "))

        ws = words()
        queries = [
            ("common word", ws[0]),
            ("mid word", ws[300]),
            ("rare word", ws[N_WORDS - 3]),
            ("two words", f"{ws[0]} {ws[1]}"),
            ("number", "123456"),
            ("glob", "*.flac"),
            ("no match", "qqqqqq"),
            ("type filter", f"type:audio {ws[300]}"),
            ("size filter", f"size:>99M {ws[30]}"),
            ("regex", f"/{ws[N_WORDS - 7]}.*(ogg|mp3)$/"),
        ]
        print(f"\nsearch round trip through Prosody, {a.r} runs per query "
              f"({a.n} files):")
        print(f"{'query':<14} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  "
              "first line of the reply")
        every = []
        for label, q in queries:
            times = []
            first = ""
            ask(f"search {q}")  # warm-up, not counted (cold page cache)
            time.sleep(a.gap)
            for _ in range(a.r):
                alice.drain()
                t = time.perf_counter()
                m = ask(f"search {q}")
                dt = time.perf_counter() - t
                times.append(dt * 1000)
                first = m.body.split("\n")[-1]
                if dt < a.gap:
                    time.sleep(a.gap - dt)
            every += times
            print(f"{label:<14} {pct(times, 50):8.2f} {pct(times, 99):8.2f} "
                  f"{max(times):8.2f}  {first[:60]}")
        print(f"{'all':<14} {pct(every, 50):8.2f} {pct(every, 99):8.2f} "
              f"{max(every):8.2f}")

        for label, cmd in (("info 1", "info 1"),
                           ("search (rare)", f"search {ws[N_WORDS - 3]}")):
            alice.drain()
            time.sleep(3)  # the output bucket refills
            hz = os.sysconf("SC_CLK_TCK")
            cpu = cpu_ticks(bot.proc.pid)
            t = time.perf_counter()
            for _ in range(a.c):
                alice.send(bot.jid, cmd)
            got = 0
            while got < a.c:
                alice.wait(lambda m: m.bare == bot.jid, 120)
                got += 1
            dt = time.perf_counter() - t
            cpu = (cpu_ticks(bot.proc.pid) - cpu) / hz
            print(f"\n{a.c} x '{label}' sent at once: all answered in "
                  f"{dt:.2f} s = {a.c / dt:.1f} commands/s (output paced); "
                  f"bot CPU {cpu:.2f} s = "
                  f"{a.c / cpu if cpu > 0 else float('inf'):.0f} commands "
                  "per CPU second")
    finally:
        if alice is not None:
            alice.close()
        rc = bot.stop(120)
        prosody.stop()
        if rc != 0:
            print(f"fisbot exited with {rc}; log: {bot.log}")
        if not a.keep and not a.d:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
