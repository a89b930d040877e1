#!/usr/bin/python3
"""IQ budget and fair send queue benchmark (issue 10). Not a test: prints
figures and asserts nothing.

Starts a private Prosody on loopback and fisbot with the default [limits]
(iq_burst = 50, iq_rate = 10/s), then, R times:

1. One flood: a fresh account sends 600 XMPP pings to the bot's full JID
   in one write; once the first answer is back, alice sends `stats` in a
   direct chat, and the time until her answer arrives is measured. Also
   counted: the flooder's results and resource-constraint errors.
2. Many floods: F fresh accounts send P pings each in one write at once;
   0.3 s later alice sends `help`; same measure (-f 0: skipped).

Between runs the bot's queue is left to drain. Before the budgets (one
FIFO, 10 then 5 stanzas/s), figure 1 was 116 s.

    /usr/bin/python3 tests/bench/bench_budgets.py [-r RUNS] [-f FLOODERS]
        [-p PINGS]

FISBOT_BIN and FISBOT_PLUGIN_DIR name the binary and plugins (default:
build/bot/fisbot and build/plugins).
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
os.environ.setdefault("FISBOT_BIN", str(ROOT / "build/bot/fisbot"))
os.environ.setdefault("FISBOT_PLUGIN_DIR", str(ROOT / "build/plugins"))
sys.path.insert(0, str(ROOT / "tests/integration"))

from commands_fixture import Fisbot, Prosody  # noqa: E402
from xmpp_client import Client  # noqa: E402

STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def pings(n, to, prefix):
    return "".join(f"<iq xmlns='jabber:client' type='get' id='{prefix}{i}' "
                   f"to='{to}'><ping xmlns='urn:xmpp:ping'/></iq>"
                   for i in range(n))


def answers(client, prefix):
    with client.cond:
        return [s for s in client.received if s.kind == "iq" and
                s.id.startswith(prefix) and s.type in ("result", "error")]


def settle(client, prefix, quiet=3.0, timeout=600.0):
    deadline = time.monotonic() + timeout
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(answers(client, prefix))
        if n != seen:
            seen, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.1)
    return answers(client, prefix)


def reply_time(alice, bare, body, timeout):
    mark = alice.mark()
    t0 = time.monotonic()
    alice.message(bare, body)
    alice.wait_message(lambda m: m.frm.startswith(bare + "/"),
                       timeout=timeout, since=mark)
    return time.monotonic() - t0


def summary(name, xs):
    xs = sorted(xs)
    print(f"{name}: median {statistics.median(xs):.3f} s, "
          f"max {xs[-1]:.3f} s over {len(xs)} runs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", "--runs", type=int, default=3)
    ap.add_argument("-f", "--flooders", type=int, default=20)
    ap.add_argument("-p", "--pings", type=int, default=150)
    ap.add_argument("-t", "--timeout", type=float, default=300)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="fisbot-bench-") as tmp:
        tmp = Path(tmp)
        server = Prosody(tmp / "prosody")
        server.register("alice", "pw")
        users = [f"f{i}" for i in range(args.runs)] + \
            [f"m{r}x{i}" for r in range(args.runs)
             for i in range(args.flooders)]
        for u in users:
            server.register(u, "pw")
        server.start()
        bot = Fisbot(tmp / "bot", server, "benchbot")
        (bot.share / "a.txt").write_text("a\n")
        bot.start()
        bare = bot.jid
        full = f"{bare}/fisbot"
        alice = Client(server, "alice", "pw")
        try:
            deadline = time.monotonic() + 30
            while alice.iq(full, "get", "<ping xmlns='urn:xmpp:ping'/>") \
                    .type != "result":
                assert time.monotonic() < deadline, "the bot never answered"
                time.sleep(0.2)
            one, many = [], []
            for r in range(args.runs):
                flooder = Client(server, f"f{r}", "pw")
                flooder.send_raw(pings(600, full, "p"))
                flooder.wait(lambda s: s.kind == "iq" and
                             s.id.startswith("p"), timeout=30)
                one.append(reply_time(alice, bare, "stats", args.timeout))
                got = settle(flooder, "p")
                res = sum(s.type == "result" for s in got)
                err = sum(s.type == "error" and
                          s.find(f"{{jabber:client}}error/{{{STANZAS}}}"
                                 "resource-constraint") is not None
                          for s in got)
                print(f"run {r + 1}: one flood of 600 pings: alice's reply "
                      f"in {one[-1]:.3f} s; the flooder got {res} results, "
                      f"{err} resource-constraint errors", flush=True)
                flooder.close()
                if args.flooders == 0:
                    continue

                floods = [Client(server, f"m{r}x{i}", "pw")
                          for i in range(args.flooders)]
                go = threading.Barrier(len(floods))

                def flood(c):
                    go.wait()
                    c.send_raw(pings(args.pings, full, "q"))
                threads = [threading.Thread(target=flood, args=(c,))
                           for c in floods]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                time.sleep(0.3)
                many.append(reply_time(alice, bare, "help", args.timeout))
                print(f"run {r + 1}: {args.flooders} floods of {args.pings} "
                      f"pings: alice's reply in {many[-1]:.3f} s",
                      flush=True)
                for c in floods:
                    settle(c, "q", quiet=2.0)
                for c in floods:
                    c.close()
            summary("reply during one 600-ping flood", one)
            if many:
                summary(f"reply during {args.flooders} floods", many)
        finally:
            alice.close()
            bot.stop()
            server.stop()


if __name__ == "__main__":
    main()
