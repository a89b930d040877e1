"""The download queue end to end: the real fisbot with [transfers]
slots = 1 against a private Prosody on loopback, slixmpp clients, and real
HTTP downloads.

A slow download holds the one slot; a second requester's get is queued
(one line with its place and an estimate) and, when the download ends,
it is sent the very link message get sends (body = URL, oob, XEP-0447),
whose download takes the slot held for it. queue, cancel, stats, and a
requester who leaves the room losing its place.
"""
import hashlib
import re
import signal
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from commands_fixture import MUC, Chat, Fisbot, Prosody, account

ROOM = f"queue@{MUC}"
MIB = 1024 * 1024
BIG = bytes(range(256)) * (3 * MIB // 256)
SMALL = b"small file\n" * 100

# Alice's download is read at this pace (10 s for BIG): the chat round
# trips that must happen while it holds the slot have room on a slow
# machine.
SLOW = 300 * 1024

QUEUED = re.compile(r"all 1 slots are busy: you are #(\d+) in the queue "
                    r"\(about (\d+) min\); !queue, !cancel")


class Env:
    def __init__(self, root: Path):
        self.prosody = Prosody(root / "prosody").start()
        self.bot = Fisbot(root / "bot", self.prosody, "bot", rooms=[ROOM],
                          extra=textwrap.dedent("""
            [limits]
            burst = 1000
            rate = 1000000/s

            [transfers]
            slots = 1
            download_rate = 1M
            slot_hold = 30s
            """))
        (self.bot.share / "big.bin").write_bytes(BIG)
        (self.bot.share / "small.bin").write_bytes(SMALL)
        self.chats = {}
        try:
            self.bot.start()
            for user in ("alice", "bob", "carol", "dave"):
                c = Chat(account(self.prosody, user), self.prosody)
                self.chats[user] = c
                if user != "carol":
                    c.join(ROOM, user)
            self.wait_joined()
            self.wait_indexed()
        except BaseException:
            self.close()
            raise

    def wait_joined(self, timeout=20):
        deadline = time.monotonic() + timeout
        while self.bot.nick not in self.chats["alice"].occupants(ROOM):
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not join")
            time.sleep(0.1)

    def direct(self, user, body, timeout=10):
        c = self.chats[user]
        c.drain()
        c.send(self.bot.jid, body)
        return c.wait(lambda m: m.bare == self.bot.jid and m.type == "chat",
                      timeout)

    def in_room(self, user, body, timeout=10):
        """Says body in the room; returns the bot's private reply."""
        c = self.chats[user]
        c.drain()
        c.room(ROOM, body)
        return c.wait(lambda m: m.frm == f"{ROOM}/{self.bot.nick}" and
                      m.type == "chat", timeout)

    def wait_indexed(self, timeout=30):
        deadline = time.monotonic() + timeout
        while "#2 " not in self.direct("alice", "new 2").body or \
                "#1 " not in self.direct("alice", "new 2").body:
            if time.monotonic() > deadline:
                raise TimeoutError("not indexed")
            time.sleep(0.3)

    def stats(self):
        return self.direct("alice", "stats").body

    def close(self):
        for c in self.chats.values():
            c.close()
        rc = self.bot.stop()
        self.prosody.stop()
        return rc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("queue"))
    yield e
    assert e.bot.alive(), e.bot.log_text()
    assert e.close() == 0


def fetch(url, out, rate=None):
    """Downloads url into out; with rate (bytes/s), reads slowly."""
    with urllib.request.urlopen(url, timeout=60) as r:
        out["status"] = r.status
        data = b""
        while True:
            chunk = r.read(64 * 1024)
            if not chunk:
                break
            data += chunk
            if rate:
                time.sleep(len(chunk) / rate)
        out["data"] = data


def wait_stats(env, text, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        body = env.stats()
        if text in body:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {body!r}")
        time.sleep(0.2)


def test_slot_queue_handover(env):
    link = env.direct("alice", "get big.bin")
    assert link.body.startswith(env.bot.base_url + "/f/")
    out = {}
    t = threading.Thread(target=fetch, args=(link.body, out, SLOW))
    t.start()
    wait_stats(env, "slots: 1 of 1 in use")

    # bob, in the room: queued, one line.
    r = env.in_room("bob", "!get small.bin")
    m = QUEUED.fullmatch(r.body)
    assert m and m.group(1) == "1", r.body
    assert r.oob_url is None
    assert env.in_room("bob", "!queue").body.startswith(
        "you are #1 in the queue of 1 (about ")
    body = env.stats()
    assert "queue: 1 waiting" in body
    assert re.search(r"^rate: [0-9.]+ (B|KiB|MiB)/s$", body, re.M), body

    # The download ends: bob is sent the link message get would send.
    bob = env.chats["bob"]
    handed = bob.wait(lambda m: m.frm == f"{ROOM}/{env.bot.nick}", 30)
    t.join()
    assert out["status"] == 200 and out["data"] == BIG
    assert handed.body.startswith(env.bot.base_url + "/f/")
    assert handed.oob_url == handed.body
    assert handed.file_sharing is not None
    assert "queue: 0 waiting" in env.stats()

    # The slot is held for bob: carol (direct) waits behind it, and
    # cancels.
    r = env.direct("carol", "get big.bin")
    assert QUEUED.fullmatch(r.body), r.body
    assert env.direct("carol", "queue").body.startswith("you are #1 ")
    assert env.direct("carol", "cancel").body == \
        "you left the queue (1 request)"
    assert env.direct("carol", "cancel").body == "you are not in the queue"
    assert "queue: 0 waiting" in env.stats()

    # bob's download takes the held slot.
    got = {}
    fetch(handed.body, got)
    assert got["status"] == 200 and got["data"] == SMALL
    assert hashlib.sha256(got["data"]).hexdigest() == \
        hashlib.sha256(SMALL).hexdigest()


def test_leaving_the_room_loses_the_place(env):
    wait_stats(env, "slots: 0 of 1 in use", 15)
    link = env.direct("alice", "get big.bin")
    out = {}
    t = threading.Thread(target=fetch, args=(link.body, out, SLOW))
    t.start()
    wait_stats(env, "slots: 1 of 1 in use")
    r = env.in_room("dave", "!get small.bin")
    assert QUEUED.fullmatch(r.body), r.body
    assert "queue: 1 waiting" in env.stats()
    dave = env.chats["dave"]
    dave.loop.call_soon_threadsafe(
        lambda: dave.xmpp.plugin["xep_0045"].leave_muc(ROOM, "dave"))
    wait_stats(env, "queue: 0 waiting")
    t.join()
    assert out["data"] == BIG
    # Nothing is sent to dave when the slot frees.
    assert not dave.collect(
        3, lambda m: m.body.startswith(env.bot.base_url))
    assert "left the queue" in env.bot.log_text()


def test_queue_survives_reload(env):
    """SIGHUP with more slots: the waiting requester is still in the queue
    and is handed its link under the new limits."""
    wait_stats(env, "slots: 0 of 1 in use", 35)
    link = env.direct("alice", "get big.bin")
    out = {}
    t = threading.Thread(target=fetch, args=(link.body, out, SLOW / 2))
    t.start()
    wait_stats(env, "slots: 1 of 1 in use")
    r = env.direct("carol", "get big.bin")
    assert QUEUED.fullmatch(r.body), r.body
    carol = env.chats["carol"]
    text = env.bot.config.read_text()
    env.bot.config.write_text(text.replace("slots = 1\n", "slots = 2\n"))
    env.bot.proc.send_signal(signal.SIGHUP)
    handed = carol.wait(lambda m: m.bare == env.bot.jid, 15)
    # Handed while alice's slow download still holds the first slot: by
    # the reload, not by the download's end.
    assert t.is_alive()
    t.join()
    assert handed.body.startswith(env.bot.base_url + "/f/")
    assert handed.oob_url == handed.body
    assert out["data"] == BIG
    assert "reload: [transfers] changed" in env.bot.log_text()
