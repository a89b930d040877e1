"""One user's slow search never holds up another user's reply (the rule:
searches, listings and counts run on query workers; one user's slowest
query, bounded at 2 s, never delays another user's reply by more than
50 ms).

The real bot and a private Prosody on loopback. The catalogue gets
SLOW_ROWS extra rows written straight into its database while the bot
runs (the bot's one writer, the indexer, only reconciles at start, so they
stay; no file has to exist): enough for a search whose terms need no index
(sixteen regexes, the last of which matches nothing) to read every row and
run for about the 2 s cap. Alice asks it; 100 ms later Bob says `help`.
Bob's answer must come long before Alice's. The figures are printed
(pytest -s); the goal (≤ 50 ms over Bob's usual round trip) is measured,
not asserted: the assertions are generous so that a loaded machine does
not make them flaky, yet fail on a bot that runs the search on the thread
that answers Bob.

Also: a second user's search is not held up either (another worker runs
it), SIGHUP reloads while a search runs, and SIGTERM with a search in
flight exits cleanly (0; under ASan, no leak).
"""
import signal
import sqlite3
import statistics
import time
from pathlib import Path

import pytest

from commands_fixture import Chat, Fisbot, Prosody, account

SLOW_ROWS = 100000   # rows added at a time...
SLOW_ROWS_MAX = 400000  # ...until the search takes SLOW_ENOUGH s
# Near the 2 s cap, so that the search is still well over 0.8 s when the
# test runs on a machine less busy than during the calibration.
SLOW_ENOUGH = 1.8
# Sixteen terms (the most a query may have): every row passes the first
# fifteen, none the last; no literal of three characters, so no index
# helps and every term runs on every row, to its end.
SLOW_QUERY = "search " + " ".join(["/[a-f].*[0-9].*t$/"] * 15 +
                                  ["/q[0-9]x$/"])
LIMITS = """
[limits]
burst = 1000
rate = 1000000/s
"""


def stamp(chat: Chat) -> None:
    """Records when each message reaches chat (m.t, monotonic)."""
    put = chat.inbox.put

    def put_stamped(m, *a, **kw):
        m.t = time.monotonic()
        put(m, *a, **kw)
    chat.inbox.put = put_stamped


def add_rows(db: Path, n: int) -> None:
    """Adds n hashed files under slow/ straight into the catalogue (the
    rows added before are kept)."""
    con = sqlite3.connect(db, timeout=60)
    try:
        with con:
            con.execute("INSERT OR IGNORE INTO dirs (path, parent, name,"
                        " lname) VALUES (CAST('slow' AS BLOB),"
                        " CAST('' AS BLOB), CAST('slow' AS BLOB), 'slow')")
            con.execute("""
                WITH RECURSIVE s(i) AS (
                    SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
                INSERT INTO files (path, dir, name, lname, lpath, size,
                                   mtime_ns, dev, ino, sha256, media_type,
                                   added)
                SELECT CAST(p AS BLOB), CAST('slow' AS BLOB),
                       CAST(substr(p, 6) AS BLOB), substr(p, 6), p, 1000,
                       1, 1, i, randomblob(32), 'text/plain', 1700000000
                FROM (SELECT i, 'slow/' || lower(hex(randomblob(40)))
                             || ' ' || (i + base) || '.txt' AS p
                      FROM s, (SELECT count(*) AS base FROM files))""",
                        (n,))
            # fisbot's writer keeps the trigram index itself (no
            # triggers): rebuild it for the rows added here.
            con.execute("INSERT INTO files_fts(files_fts)"
                        " VALUES ('rebuild')")
    finally:
        con.close()


class Env:
    """A Prosody, the bot, and three users talking to it directly."""

    def __init__(self, root: Path):
        self.prosody = Prosody(root / "prosody").start()
        self.bot = Fisbot(root / "bot", self.prosody, "bot", extra=LIMITS)
        (self.bot.share / "hello.txt").write_bytes(b"hello\n")
        self.users = []
        try:
            self.bot.start()
            for name in ("alice", "bob", "carol"):
                chat = Chat(account(self.prosody, name), self.prosody)
                stamp(chat)
                self.users.append(chat)
            self.alice, self.bob, self.carol = self.users
            # The share is indexed (the start-up reconcile is over)...
            deadline = time.monotonic() + 30
            while "#1 hello.txt" not in self.ask(self.alice, "new").body:
                assert time.monotonic() < deadline, "not indexed"
                time.sleep(0.2)
            # ...before the extra rows go in: enough of them for the
            # search to take SLOW_ENOUGH s (or to hit the 2 s cap).
            rows = 0
            while rows < SLOW_ROWS_MAX:
                add_rows(self.bot.root / "fisbot.db", SLOW_ROWS)
                rows += SLOW_ROWS
                assert f"files: {rows + 1}" in self.ask(
                    self.alice, "stats", 30).body.split("\n")
                t = time.monotonic()
                self.ask(self.alice, SLOW_QUERY, 30)
                self.slow = time.monotonic() - t
                if self.slow >= SLOW_ENOUGH:
                    break
            print(f"\n{rows} rows: the slow search takes "
                  f"{self.slow * 1000:.0f} ms alone")
        except BaseException:
            self.close()
            raise

    def ask(self, chat: Chat, body: str, timeout: float = 10):
        chat.drain()
        chat.send(self.bot.jid, body)
        return self.reply(chat, timeout)

    def reply(self, chat: Chat, timeout: float = 10):
        return chat.wait(lambda m: m.bare == self.bot.jid, timeout)

    def close(self) -> int:
        for chat in self.users:
            chat.close()
        rc = self.bot.stop()
        self.prosody.stop()
        return rc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("slow_query"))
    yield e
    rc = e.close()
    assert rc == 0, e.bot.log_text()


def round_trip(env, chat: Chat, body: str) -> float:
    t = time.monotonic()
    m = env.ask(chat, body)
    return m.t - t


def test_help_is_not_held_up_by_a_slow_search(env):
    # Bob's usual round trip for help, with nothing else going on.
    base = statistics.median(round_trip(env, env.bob, "help")
                             for _ in range(5))
    env.alice.drain()
    env.bob.drain()
    t_a = time.monotonic()
    env.alice.send(env.bot.jid, SLOW_QUERY)
    time.sleep(0.1)
    t_b = time.monotonic()
    env.bob.send(env.bot.jid, "help")
    b = env.reply(env.bob)
    a = env.reply(env.alice, 30)
    slow = a.t - t_a
    delay = b.t - t_b
    print(f"\nslow search: {slow * 1000:.0f} ms ({a.body!r}); "
          f"help during it: {delay * 1000:.1f} ms, "
          f"alone: {base * 1000:.1f} ms, "
          f"extra: {(delay - base) * 1000:.1f} ms")
    assert b.body.startswith("commands"), b.body
    # The search really was slow, or this test shows nothing.
    assert slow >= 0.8, \
        f"the slow search took only {slow:.2f} s: add rows (SLOW_ROWS)"
    # Bob was answered while Alice's search ran, long before its end.
    assert b.t < a.t
    assert delay < max(1.0, slow / 2), \
        f"help took {delay:.3f} s during a {slow:.3f} s search"


def test_another_search_is_not_held_up(env):
    env.alice.drain()
    env.carol.drain()
    t_a = time.monotonic()
    env.alice.send(env.bot.jid, SLOW_QUERY)
    time.sleep(0.1)
    t_c = time.monotonic()
    env.carol.send(env.bot.jid, "search hello")
    c = env.reply(env.carol)
    a = env.reply(env.alice, 30)
    print(f"\nsearch during a {(a.t - t_a) * 1000:.0f} ms search: "
          f"{(c.t - t_c) * 1000:.1f} ms")
    assert c.body.startswith("#1 hello.txt"), c.body
    assert c.t < a.t


def test_one_requester_is_answered_in_order(env):
    # Alice's help waits for her own search: answers come in order.
    env.alice.drain()
    env.alice.send(env.bot.jid, SLOW_QUERY)
    env.alice.send(env.bot.jid, "help")
    first = env.reply(env.alice, 30)
    second = env.reply(env.alice, 30)
    assert not first.body.startswith("commands"), first.body
    assert second.body.startswith("commands"), second.body


def test_reload_during_a_slow_search(env):
    env.alice.drain()
    env.alice.send(env.bot.jid, SLOW_QUERY)
    time.sleep(0.1)
    env.bot.proc.send_signal(signal.SIGHUP)
    assert env.ask(env.bob, "help").body.startswith("commands")
    a = env.reply(env.alice, 30)
    assert not a.body.startswith("commands"), a.body
    assert env.ask(env.carol, "search hello").body.startswith(
        "#1 hello.txt")
    assert "reloading" in env.bot.log_text()


def test_sigterm_during_a_slow_search(env):
    # Last: the bot stops here. It exits 0 within its grace time (the
    # fixture checks the exit code; under ASan a leak would change it).
    env.alice.drain()
    env.alice.send(env.bot.jid, SLOW_QUERY)
    time.sleep(0.3)
    t = time.monotonic()
    env.bot.proc.send_signal(signal.SIGTERM)
    rc = env.bot.proc.wait(20)
    print(f"\nSIGTERM with a search in flight: exit {rc} after "
          f"{(time.monotonic() - t) * 1000:.0f} ms")
    assert rc == 0, env.bot.log_text()
