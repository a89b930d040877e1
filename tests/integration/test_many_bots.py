"""Many bots, one room (README "Many bots"): two fisbots, each with its
own share, database and HTTP server, in the same room. A room-wide @find
is answered by both (each for its own files), and each bot's links point
at its own server and download from it."""
import re
import time
import urllib.parse
import urllib.request

import pytest

from commands_fixture import MUC, Chat, Fisbot, Prosody, account

ROOM = f"many@{MUC}"
LIMITS = """
[limits]
burst = 1000
rate = 1000000/s
"""


def file_ids(body: str) -> dict:
    """path -> id, from the "#ID path (size)" lines of a reply."""
    out = {}
    for line in body.split("\n"):
        m = re.fullmatch(r"#(\d+) (.*) \([0-9.]+ (?:B|KiB|MiB|GiB)\)", line)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


@pytest.fixture
def two_bots(tmp_path):
    prosody = Prosody(tmp_path / "prosody").start()
    bots, alice = [], None
    try:
        for i, name in enumerate(("alpha", "beta")):
            b = Fisbot(tmp_path / name, prosody, f"bot{i}", rooms=[ROOM],
                       nick=f"files-{name}", extra=LIMITS)
            (b.share / f"common-{name}.txt").write_bytes(
                f"{name} bytes\n".encode() * (100 + i))
            (b.share / f"only-{name}.txt").write_bytes(b"x")
            bots.append(b.start())
        alice = Chat(account(prosody, "alice"), prosody)
        alice.join(ROOM, "alice")
        deadline = time.monotonic() + 30
        while not all(b.nick in alice.occupants(ROOM) for b in bots):
            assert time.monotonic() < deadline, "the bots did not join"
            time.sleep(0.1)
        yield prosody, bots, alice
    finally:
        if alice is not None:
            alice.close()
        rcs = [b.stop() for b in bots]
        prosody.stop()
    assert rcs == [0, 0], [b.log_text()[-2000:] for b in bots]


def test_find_answered_by_each_bot_with_its_own_links(two_bots):
    _, bots, alice = two_bots
    occupants = {f"{ROOM}/{b.nick}": b for b in bots}
    # Both answer a room-wide @find, each with its own file, once
    # indexed (poll: indexing is asynchronous).
    deadline = time.monotonic() + 30
    while True:
        alice.drain()
        alice.room(ROOM, "@find common")
        got = alice.collect(4, lambda m: m.frm in occupants)
        found = {m.frm: file_ids(m.body) for m in got if m.type == "chat"}
        if len(found) == 2 and all(found.values()):
            break
        assert time.monotonic() < deadline, [m.body for m in got]
    for occ, b in occupants.items():
        name = b.root.name
        assert list(found[occ]) == [f"common-{name}.txt"], found
        # Its links are its own server's.
        alice.drain()
        alice.send(occ, f"get {found[occ][f'common-{name}.txt']}")
        m = alice.wait(lambda m: m.frm == occ, 10)
        url = urllib.parse.urlsplit(m.body)
        assert url.port == b.http_port, (m.body, b.http_port)
        with urllib.request.urlopen(m.body, timeout=10) as r:
            assert r.read() == (b.share / f"common-{name}.txt").read_bytes()
    assert bots[0].http_port != bots[1].http_port
    # A file only one bot has: only that bot answers.
    alice.drain()
    alice.room(ROOM, "@find only-beta")
    got = alice.collect(4, lambda m: m.frm in occupants)
    assert [m.frm for m in got] == [f"{ROOM}/{bots[1].nick}"], got
