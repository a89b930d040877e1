#!/usr/bin/python3
"""Idle benchmark (issue 11): what an idle fisbot costs. Not a test: prints
figures and asserts nothing.

Starts a private Prosody on loopback and fisbot (the shipped command
plugins and announce) in one room, waits until it has joined and its
start-up work is over, then reads /proc over S seconds (default 10) of
idleness: the CPU time of the whole process (utime + stime, in clock
ticks) and the context switches of each of its threads (a switch is a
wake-up: the main thread's count is the number of times its loop woke).

    /usr/bin/python3 tests/bench/bench_idle.py [-s SECONDS] [-d DIR]

FISBOT_BIN and FISBOT_PLUGIN_DIR name the binary and plugins (default:
build/bot/fisbot and build/plugins).
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
os.environ.setdefault("FISBOT_BIN", str(ROOT / "build/bot/fisbot"))
os.environ.setdefault("FISBOT_PLUGIN_DIR", str(ROOT / "build/plugins"))
sys.path.insert(0, str(ROOT / "tests/integration"))

from commands_fixture import MUC, Fisbot, Prosody  # noqa: E402

ROOM = f"idle@{MUC}"


def cpu_ticks(pid: int) -> int:
    """utime + stime of the whole process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def switches(pid: int) -> dict:
    """Context switches (voluntary + not) per thread: {name/tid: n}."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines()
                      if ":\t" in line)
        n = (int(fields["voluntary_ctxt_switches"]) +
             int(fields["nonvoluntary_ctxt_switches"]))
        out[f"{fields['Name'].strip()}/{task.name}"] = n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-s", "--seconds", type=float, default=10.0)
    ap.add_argument("-d", "--dir", help="work folder (default: a temporary "
                    "one, removed at the end)")
    args = ap.parse_args()
    tmp = None
    if args.dir:
        work = Path(args.dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="fisbot-bench-idle-")
        work = Path(tmp.name)
    server = Prosody(work / "prosody")
    server.start()
    bot = Fisbot(work / "bot", server, "idlebot", rooms=(ROOM,))
    try:
        bot.start()
        deadline = time.monotonic() + 60
        while "joined " + ROOM not in bot.log_text():
            if time.monotonic() > deadline:
                sys.exit("fisbot did not join its room:\n" + bot.log_text())
            time.sleep(0.2)
        time.sleep(12)  # the room ready, the start-up scan over
        pid = bot.proc.pid
        hz = os.sysconf("SC_CLK_TCK")
        t0, s0 = cpu_ticks(pid), switches(pid)
        time.sleep(args.seconds)
        t1, s1 = cpu_ticks(pid), switches(pid)
        print(f"fisbot {os.environ['FISBOT_BIN']}")
        print(f"idle {args.seconds:.0f} s in one room, Prosody connected:")
        print(f"  CPU: {t1 - t0} ticks of {1000 // hz} ms "
              f"({100.0 * (t1 - t0) / hz / args.seconds:.2f} % of a core)")
        for name in sorted(s1):
            woke = s1[name] - s0.get(name, s1[name])
            print(f"  {name:24} {woke:6d} wake-ups "
                  f"({woke / args.seconds:.1f}/s)")
    finally:
        bot.stop()
        server.cleanup()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
