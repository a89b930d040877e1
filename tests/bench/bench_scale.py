#!/usr/bin/python3
"""Scale benchmark (issue 15 item 7). Not a test: prints figures and
asserts nothing.

1. Builds a share of N small files (default 1,000,000; 16 to 512 bytes of
   random data) with realistic names ("rock/Artist Name - Album Title
   (1987)/0042 - Some Title Words.ogg") in folders of about 1,000 files;
   a quarter of the files have an extension the media-type table does not
   know (.dat, .bin, .part, none), so libmagic is asked about them.
2. Page cache warm (one untimed openssl pass first), times in one run:
   two `openssl dgst -sha256` processes in parallel over the two halves
   of the files (the reference), then `fisbot scan` on a new catalogue
   (cold: wall time, CPU time, peak RSS), then `fisbot scan` again (the
   rescan of unchanged files).
3. Starts the daemon (a private Prosody on loopback, as in the other
   benchmarks) on that catalogue: time until its start-up reconcile is
   logged, then, settled, its RSS and its inotify watches; then 100 new
   files written one by one, each timed from close() until the catalogue
   has its hash (read-only polling of the database every 2 ms): p50 and
   max, and the same minus `settle`; then --new-folders folders of 5
   files each moved into the share one by one (made outside it first),
   each timed until the catalogue has every hash of it, with the daemon's
   CPU time (user + system) per folder.
4. Each search shape through bench_search -d on that catalogue (a page of
   10 and its count): p50 and p99.

    /usr/bin/python3 tests/bench/bench_scale.py [-n FILES] [-d DIR]
        [--keep] [-r RUNS] [--settle MS] [--no-daemon] [--no-search]
        [--no-new-files] [--new-folders K]
        [--shape tiny|mixed|large|flat]

--shape mixed builds instead 20,000 small files of a type no name or
signature tells (.dat, random bytes, 16 B to 8 KiB) beside 40 files of 16
MiB; --shape large 16 files of 64 MiB. Both time only the cold scan and
the rescan against openssl (-n is ignored; no daemon, no search).
--shape flat puts the N small files in one folder (the walk holds a
folder's names at once: its peak memory).

FISBOT_BIN and BENCH_SEARCH name the programs (default: build/bot/fisbot
and build/tests/bench/bench_search). -d reuses a share made by an earlier
run with --keep (same -n).
"""
import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FISBOT = os.environ.get("FISBOT_BIN", str(ROOT / "build/bot/fisbot"))
BENCH_SEARCH = os.environ.get("BENCH_SEARCH",
                              str(ROOT / "build/tests/bench/bench_search"))
PLUGIN_DIR = os.environ.get("FISBOT_PLUGIN_DIR", str(ROOT / "build/plugins"))
sys.path.insert(0, str(ROOT / "tests/integration"))

GENRES = ["rock", "jazz", "classical", "electronic", "folk", "pop",
          "podcasts", "photos", "books", "scans", "misc", "video"]
# Extension mix: three quarters known to the table, a quarter not.
EXTS = (["ogg"] * 14 + ["mp3"] * 14 + ["flac"] * 8 + ["jpg"] * 10 +
        ["png"] * 6 + ["txt"] * 8 + ["pdf"] * 6 + ["mkv"] * 4 +
        ["m4a"] * 5 + ["dat"] * 10 + ["bin"] * 6 + ["part"] * 4 +
        [""] * 5)
PER_FOLDER = 1000
LETTERS = ("eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnssssss"
           "hhhhhhrrrrrrddddlllluuucccmmmwwffggyyppbbvkjxqz")


def make_words(rng, n=4000):
    """n pronounceable-ish words with English letter frequencies."""
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(LETTERS)
                        for _ in range(rng.randint(3, 9))))
    return sorted(out)


def title(rng, words, k):
    return " ".join(rng.choice(words).capitalize() for _ in range(k))


def build_share(share: Path, n: int, seed=15):
    """Writes n files under share; returns the list of relative paths."""
    rng = random.Random(seed)
    words = make_words(rng)
    paths = []
    t0 = time.monotonic()
    folder = None
    for i in range(n):
        if i % PER_FOLDER == 0:
            genre = GENRES[(i // PER_FOLDER) % len(GENRES)]
            folder = share / genre / (
                f"{title(rng, words, 2)} - {title(rng, words, 3)} "
                f"({1950 + rng.randrange(75)}) {i // PER_FOLDER}")
            folder.mkdir(parents=True)
        ext = rng.choice(EXTS)
        name = f"{i % PER_FOLDER:04d} - {title(rng, words, rng.randint(1, 5))}"
        if ext:
            name += "." + ext
        p = folder / name
        with open(p, "wb") as f:
            f.write(rng.randbytes(rng.randint(16, 512)))
        paths.append(str(p.relative_to(share)))
        if i % 50000 == 49999:
            print(f"\r  {i + 1} files", end="", file=sys.stderr, flush=True)
    print(f"\r  built {n} files in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    return paths


def build_mixed(share: Path, seed=15):
    """20,000 small files of unknown type and 40 of 16 MiB."""
    rng = random.Random(seed)
    paths = []
    for i in range(20000):
        folder = share / "small" / f"d{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"sample-{i:05d}.dat"
        p.write_bytes(rng.randbytes(rng.randint(16, 8192)))
        paths.append(str(p.relative_to(share)))
    return paths + build_large(share, 40, 16, rng)


def build_flat(share: Path, n: int, seed=15):
    """n small files in one folder."""
    rng = random.Random(seed)
    folder = share / "dump"
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        p = folder / f"capture {i:07d} of the dump.dat"
        p.write_bytes(rng.randbytes(rng.randint(16, 512)))
        paths.append(str(p.relative_to(share)))
    return paths


def build_large(share: Path, n: int, mib: int, rng=None):
    """n files of mib MiB of random bytes."""
    rng = rng or random.Random(15)
    paths = []
    (share / "big").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = share / "big" / f"take-{i:02d}.bin"
        with open(p, "wb") as f:
            for _ in range(mib):
                f.write(rng.randbytes(1 << 20))
        paths.append(str(p.relative_to(share)))
    return paths


def run_timed(argv, **kw):
    """Runs argv; returns (wall s, user+sys s, peak RSS MiB, returncode).
    The peak is the process's own VmHWM, read every 20 ms while it runs:
    ru_maxrss would count this script's memory (Linux keeps the high-water
    mark of the memory the child had before its exec, a copy of ours)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, **kw)
    peak = [0]

    def poll():
        while True:
            try:
                text = Path(f"/proc/{p.pid}/status").read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    poller.join(1)
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, peak[0] / 1024, p.returncode


def openssl_pair(share: Path, paths):
    """Two openssl processes (xargs batches) over the two halves."""
    half = len(paths) // 2
    procs = []
    t0 = time.monotonic()
    for part in (paths[:half], paths[half:]):
        p = subprocess.Popen(["xargs", "-0", "-n", "4000", "openssl", "dgst",
                              "-sha256"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, cwd=share)
        procs.append((p, part))
    for p, part in procs:
        p.stdin.write(b"\0".join(x.encode() for x in part) + b"\0")
        p.stdin.close()
    for p, _ in procs:
        p.wait()
    return time.monotonic() - t0


def write_config(folder: Path, share: Path, db: Path, xmpp: str, settle_ms):
    conf = folder / "fisbot.conf"
    conf.write_text(xmpp + f"""
[share]
path = {share}
database = {db}
settle = {settle_ms}ms

[http]
listen = 127.0.0.1:0
base_url = http://127.0.0.1:8080

[plugins]
path = {PLUGIN_DIR}
load = help
""")
    return conf


def rss_and_watches(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    vals = {}
    for line in status.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "VmHWM"):
            vals[k] = int(v.split()[0]) / 1024
    watches = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        watches += text.count("inotify wd:")
    return vals, watches


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_folders(args, folder, share, db, pid):
    """Moves args.new_folders folders of 5 files into the share one by
    one; returns the wall times (ms) until each is hashed, and the CPU
    seconds the daemon spent on all of them."""
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                         check_same_thread=False)
    walls = []
    cpu0 = cpu_seconds(pid)
    for k in range(args.new_folders):
        src = folder / f"incoming {k}"
        src.mkdir()
        for j in range(5):
            (src / f"{j:02d} - new track {k}.ogg").write_bytes(
                os.urandom(200 + j))
        name = f"new bench folder {k}"
        t1 = time.monotonic()
        os.rename(src, share / name)
        lo, hi = (name + "/").encode(), (name + "0").encode()
        while True:
            (n,) = ro.execute(
                "SELECT count(*) FROM files WHERE path > ? AND path < ?"
                " AND sha256 IS NOT NULL", (lo, hi)).fetchone()
            if n == 5:
                break
            if time.monotonic() - t1 > 120:
                raise TimeoutError(name)
            time.sleep(0.002)
        walls.append((time.monotonic() - t1) * 1000)
    cpu = cpu_seconds(pid) - cpu0
    ro.close()
    for k in range(args.new_folders):
        shutil.rmtree(share / f"new bench folder {k}")
    return walls, cpu


def wait_log(log: Path, text: str, proc, timeout=3600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError("fisbot exited:\n" + log.read_text()[-3000:])
        time.sleep(0.05)
    raise TimeoutError(f"fisbot never logged {text!r}")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def untyped_types(db, pid, t0):
    """Waits until the daemon has found, in the background, every media
    type the scan left to libmagic; prints how many, how long and the
    daemon's CPU for them."""
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    q = "SELECT count(*) FROM files WHERE media_type IS NULL AND sha256" \
        " IS NOT NULL"
    first = ro.execute(q).fetchone()[0]
    cpu0, t1 = cpu_seconds(pid), time.monotonic()
    left = first
    while left > 0 and time.monotonic() - t1 < 600:
        time.sleep(0.5)
        left = ro.execute(q).fetchone()[0]
    ro.close()
    print(f"media types left to libmagic: {first} files typed in the "
          f"background in {time.monotonic() - t1:.1f} s (daemon CPU "
          f"{cpu_seconds(pid) - cpu0:.1f} s), {left} left; "
          f"{time.monotonic() - t0:.1f} s after the start")


def daemon(args, folder, share, db, paths):
    from prosody import Prosody
    server = Prosody(folder / "prosody").start()
    try:
        server.register("scalebot", "secret")
        conf = write_config(folder, share, db,
                            server.fisbot_xmpp_config("scalebot", "secret"),
                            args.settle)
        log = folder / "daemon.log"
        t0 = time.monotonic()
        with open(log, "wb") as lf:
            proc = subprocess.Popen([FISBOT, "-v", "-c", str(conf)],
                                    stdout=lf, stderr=subprocess.STDOUT)
        try:
            wait_log(log, "reconciled:", proc)
            start = time.monotonic() - t0
            print(f"daemon start-up reconcile ({len(paths)} files): "
                  f"{start:.2f} s")
            untyped_types(db, proc.pid, t0)
            # A catalogue made by a bulk import has its trigram index
            # merged into one segment once the daemon is idle.
            time.sleep(0.5)
            if "merging the search index" in log.read_text(errors="replace"):
                wait_log(log, "search index merged in", proc)
                line = [x for x in log.read_text(errors="replace")
                        .splitlines() if "search index merged in" in x][0]
                print(f"daemon: {line.split(' info: ')[-1]} (from "
                      f"{line.split(' ')[0]})")
            time.sleep(max(3.0, args.settle / 1000 * 2))
            vals, watches = rss_and_watches(proc.pid)
            print(f"daemon settled: RSS {vals.get('VmRSS', 0):.1f} MiB "
                  f"(anonymous {vals.get('RssAnon', 0):.1f}, peak "
                  f"{vals.get('VmHWM', 0):.1f}), inotify watches {watches}")
            if args.new_folders > 0:
                walls, cpu = new_folders(args, folder, share, db, proc.pid)
                k = len(walls)
                print(f"new folders ({k} of 5 files, moved in one by one):"
                      f" p50 {statistics.median(walls):.0f} ms, max "
                      f"{max(walls):.0f} ms until hashed; daemon CPU "
                      f"{cpu / k * 1000:.0f} ms a folder")
                vals, _ = rss_and_watches(proc.pid)
                print(f"daemon after the new folders: RSS "
                      f"{vals.get('VmRSS', 0):.1f} MiB (peak "
                      f"{vals.get('VmHWM', 0):.1f})")
            if args.no_new_files:
                return
            lat = []
            ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                 check_same_thread=False)
            target = share / Path(paths[len(paths) // 2]).parent
            for k in range(100):
                rel = str((target / f"new bench file {k}.ogg")
                          .relative_to(share))
                with open(share / rel, "wb") as f:
                    f.write(os.urandom(300))
                t1 = time.monotonic()
                while True:
                    row = ro.execute(
                        "SELECT 1 FROM files WHERE path = ? AND sha256 IS"
                        " NOT NULL", (rel.encode(),)).fetchone()
                    if row is not None:
                        break
                    if time.monotonic() - t1 > 60:
                        raise TimeoutError(rel)
                    time.sleep(0.002)
                lat.append((time.monotonic() - t1) * 1000)
            ro.close()
            s = args.settle
            print(f"new file searchable (100 files, settle {s} ms): p50 "
                  f"{statistics.median(lat):.0f} ms, max {max(lat):.0f} ms "
                  f"(minus settle: p50 {statistics.median(lat) - s:+.0f},"
                  f" max {max(lat) - s:+.0f} ms)")
            vals, watches = rss_and_watches(proc.pid)
            print(f"daemon after the new files: RSS "
                  f"{vals.get('VmRSS', 0):.1f} MiB")
            for k in range(100):
                os.unlink(share / (str(target.relative_to(share))
                                   + f"/new bench file {k}.ogg"))
        finally:
            proc.terminate()
            proc.wait(60)
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("-d", "--dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-r", "--runs", type=int, default=200)
    ap.add_argument("--settle", type=int, default=1000, help="ms")
    ap.add_argument("--no-daemon", action="store_true")
    ap.add_argument("--no-search", action="store_true")
    ap.add_argument("--no-new-files", action="store_true")
    ap.add_argument("--new-folders", type=int, default=20)
    ap.add_argument("--shape", choices=("tiny", "mixed", "large", "flat"),
                    default="tiny")
    args = ap.parse_args()
    if args.shape in ("mixed", "large"):
        args.n = 20040 if args.shape == "mixed" else 16
    if args.shape != "tiny":
        args.no_daemon = args.no_search = True

    folder = Path(args.dir or tempfile.mkdtemp(prefix="fisbot-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    share = folder / "share"
    listing = folder / "paths.txt"
    if listing.exists() and \
            len(listing.read_text().split("\n")) == args.n:
        paths = listing.read_text().split("\n")
        print(f"reusing the share of {args.n} files in {folder}")
    else:
        if share.exists():
            shutil.rmtree(share)
        share.mkdir()
        print(f"building {args.n} files in {share}", file=sys.stderr)
        if args.shape == "mixed":
            paths = build_mixed(share)
        elif args.shape == "large":
            paths = build_large(share, 16, 64)
        elif args.shape == "flat":
            paths = build_flat(share, args.n)
        else:
            paths = build_share(share, args.n)
        listing.write_text("\n".join(paths))
    total = sum((share / p).stat().st_size for p in paths)
    print(f"share ({args.shape}): {len(paths)} files, "
          f"{total / (1 << 20):.0f} MiB, about "
          f"{total / len(paths):.0f} bytes each;"
          f" {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    db = folder / "fisbot.db"
    conf = write_config(folder, share, db,
                        "[xmpp]\njid = scalebot@localhost\npassword = x\n",
                        args.settle)
    openssl_pair(share, paths)  # warms the page cache
    ref = openssl_pair(share, paths)
    for f in folder.glob("fisbot.db*"):
        f.unlink()
    wall, cpu, peak, rc = run_timed([FISBOT, "scan", "-c", str(conf)],
                                    stdout=subprocess.DEVNULL)
    print(f"cold scan: fisbot scan {wall:.2f} s (CPU {cpu:.1f} s, peak RSS "
          f"{peak:.0f} MiB, exit {rc}) vs two openssl processes "
          f"{ref:.2f} s: {wall / ref:.2f}x")
    ref2 = openssl_pair(share, paths)
    print(f"  openssl again after the scan: {ref2:.2f} s")
    wall, cpu, peak, rc = run_timed([FISBOT, "scan", "-c", str(conf)],
                                    stdout=subprocess.DEVNULL)
    print(f"rescan of {len(paths)} unchanged files: {wall:.2f} s (CPU "
          f"{cpu:.1f} s, peak RSS {peak:.0f} MiB, exit {rc})")
    print(f"database: {db.stat().st_size / (1 << 20):.0f} MiB")

    if not args.no_daemon:
        daemon(args, folder, share, db, paths)

    if not args.no_search:
        rng = random.Random(99)
        names = [Path(p).stem.split(" - ", 1)[-1].lower() for p in
                 rng.sample(paths, 50)]
        words = sorted({w for n in names for w in n.split()},
                       key=len)
        common, rare = words[len(words) // 2], words[-1]
        shapes = [common, rare, f"{common} {rare}", f"{rare}*.ogg",
                  f"type:audio {common}", common[:2], "zq", "*.png",
                  f"/{rare}.*(ogg|mp3)$/", f"desc:{common}",
                  "size:<20", "type:video", "new:1d"]
        argv = [BENCH_SEARCH, "-d", str(db), "-r", str(args.runs)]
        for s in shapes:
            argv += ["-q", s]
        print("search shapes (bench_search -d, a page of 10 + its count):",
              flush=True)
        subprocess.run(argv, check=False)

    if args.dir is None and not args.keep:
        shutil.rmtree(folder)
    else:
        print(f"kept {folder}")


if __name__ == "__main__":
    main()
