"""The chat commands end to end: the real fisbot against a
private Prosody on loopback, driven by slixmpp clients.

Covers every command in the three places (a room with the prefix, a MUC
private message, a direct chat without the prefix), pagination with
"more", @find (silent without a match, private with one), hostile file
names in every output (and their links still download the right bytes),
batched announcements, and two bots in one room that never answer each
other.
"""
import hashlib
import os
import re
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from commands_fixture import MUC, Chat, Fisbot, Prosody, account

ROOM = f"lobby@{MUC}"

# Names that break naive bots: controls, escapes, invalid UTF-8, XML
# specials, a newline, a backslash that looks like an escape.
HOSTILE = {
    b"ctl\x01\x1b[31mred.txt": "ctl\\x01\\x1B[31mred.txt",
    b"bad\xffutf8.bin": "bad\\xFFutf8.bin",
    b"two\nlines.txt": "two\\x0Alines.txt",
    b"xml<&>'\"]]>.txt": "xml<&>'\"]]>.txt",
    b"fake\\x41.txt": "fake\\\\x41.txt",
    b"tab\there.txt": "tab\\x09here.txt",
}


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_raw(folder: Path, name: bytes, data: bytes) -> None:
    """Writes a file whose name is raw bytes."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as f:
        f.write(data)


def clean(text: str) -> bool:
    """True if text has no control character but newline."""
    return not any((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0
                   for c in text)


def file_lines(body: str):
    """The "#ID path (size)" lines of a reply, as (id, path, size)."""
    out = []
    for line in body.split("\n"):
        m = re.fullmatch(r"#(\d+) (.*) \(([0-9.]+ (?:B|KiB|MiB|GiB))\)",
                         line)
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3)))
    return out


# Limits lifted: the tests send many commands quickly.
LIMITS = f"""
[limits]
burst = 1000
rate = 1000000/s

[room "{ROOM}"]
announce = yes
"""


class Env:
    """One Prosody, one bot in ROOM, and alice (in ROOM too)."""

    def __init__(self, root: Path):
        self.prosody = Prosody(root / "prosody").start()
        self.bot = Fisbot(root / "bot", self.prosody, "bot", rooms=[ROOM],
                          extra=LIMITS + textwrap.dedent("""
            [announce]
            batch = 3s
            """))
        share = self.bot.share
        for i in range(27):
            write(share / "many" / f"f{i:02d}.txt", b"x" * (100 + i))
        write(share / "music/live/song.ogg", b"o" * (3 << 20))
        write(share / "music/live/encores/one.ogg", b"e" * 1000)
        write(share / "docs/readme.txt", b"read me\n")
        (share / "evil").mkdir()
        self.hostile = {}
        for i, name in enumerate(HOSTILE):
            data = os.urandom(1000 + i)
            write_raw(share / "evil", name, data)
            self.hostile[name] = data
        self.n_files = 27 + 3 + len(HOSTILE)
        self.alice_jid = account(self.prosody, "alice")
        self.bot_occupant = f"{ROOM}/{self.bot.nick}"
        self.alice = None
        try:
            self.bot.start()
            self.alice = Chat(self.alice_jid, self.prosody)
            self.alice.join(ROOM, "alice")
            self.wait_joined(self.alice, self.bot.nick)
            self.wait_indexed()
        except BaseException:
            self.close()  # no server or bot left behind
            raise

    def wait_joined(self, chat: Chat, nick: str, timeout=20) -> None:
        deadline = time.monotonic() + timeout
        while nick not in chat.occupants(ROOM):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{nick} did not join {ROOM}")
            time.sleep(0.1)

    def direct(self, body: str, timeout=10):
        """Sends body to the bot's JID; returns its reply."""
        self.alice.drain()
        self.alice.send(self.bot.jid, body)
        return self.alice.wait(
            lambda m: m.bare == self.bot.jid and m.type == "chat", timeout)

    def private(self, body: str, timeout=10):
        """Sends body by MUC private message; returns the reply."""
        self.alice.drain()
        self.alice.send(f"{ROOM}/{self.bot.nick}", body)
        return self.alice.wait(lambda m: m.frm == self.bot_occupant,
                               timeout)

    def in_room(self, body: str, timeout=10):
        """Says body in the room; returns the bot's (private) reply."""
        self.alice.drain()
        self.alice.room(ROOM, body)
        return self.alice.wait(
            lambda m: m.frm == self.bot_occupant and m.type == "chat",
            timeout)

    def wait_indexed(self, timeout=30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            body = self.direct("stats").body
            # every file catalogued and hashed ("new" shows hashed ones)
            if f"files: {self.n_files}\n" in body and len(file_lines(
                    self.direct("new 50").body)) == self.n_files:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed: {body!r}")
            time.sleep(0.3)

    def close(self) -> int:
        if self.alice is not None:
            self.alice.close()
        rc = self.bot.stop()
        self.prosody.stop()
        return rc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("commands"))
    yield e
    assert e.bot.alive(), e.bot.log_text()
    assert e.close() == 0


def places(env):
    """The three places, each a function sending a command: a room with
    the prefix, a MUC private message and a direct chat without it."""
    return [("room", lambda c: env.in_room("!" + c)),
            ("private", lambda c: env.private(c)),
            ("direct", lambda c: env.direct(c))]


def test_every_command_in_every_place(env):
    for where, ask in places(env):
        # list
        body = ask("list").body
        assert body.split("\n") == ["docs/", "evil/", "many/", "music/",
                                    "page 1/1 · 4 results"], where
        body = ask("list music/live").body
        assert body.split("\n") == [
            "music/live/encores/",
            f"#{song_id(env)} music/live/song.ogg (3.0 MiB)",
            "page 1/1 · 2 results"], where
        assert ask("list nowhere").body == "no such folder: nowhere"
        # info
        body = ask("info docs/readme.txt").body
        lines = body.split("\n")
        assert re.fullmatch(r"#\d+ docs/readme.txt \(8 B\)", lines[0])
        assert "name: readme.txt" in lines
        assert "path: docs/readme.txt" in lines
        assert "size: 8 B (8 bytes)" in lines
        assert "sha-256: " + hashlib.sha256(b"read me\n").hexdigest() \
            in lines
        assert "type: text/plain" in lines
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
        assert any(re.fullmatch("modified: " + stamp, x) for x in lines)
        assert any(re.fullmatch("added: " + stamp, x) for x in lines)
        assert any(re.fullmatch(r"downloads: \d+", x) for x in lines)
        assert ask("info 99999").body == "no such file: 99999"
        # search and more
        body = ask("search many").body
        assert body.endswith(
            "page 1/3 · 27 results · say !more for the next 10"), where
        assert ask("more").body.endswith(
            "page 2/3 · 27 results · say !more for the next 7"), where
        # find (answered privately wherever it is asked)
        body = ask("find readme").body
        assert re.fullmatch(r"#\d+ docs/readme.txt \(8 B\)", body), where
        # get
        m = ask("get docs/readme.txt")
        check_link(m, b"read me\n")
        assert ask("get 99999").body == "no such file: 99999"
        # stats and new
        body = ask("stats").body
        assert f"files: {env.n_files}" in body.split("\n"), where
        folders = sum(1 for p in env.bot.share.rglob("*") if p.is_dir())
        assert f"folders: {folders}" in body.split("\n"), where
        assert re.search(r"^uptime: \d", body, re.M), where
        body = ask("new 3").body
        assert len(file_lines(body)) == 3, where


def song_id(env) -> int:
    (line,) = file_lines(env.direct("search song.ogg").body)
    return line[0]


def check_link(m, data: bytes) -> None:
    """A get reply: body exactly the URL, the same URL in jabber:x:oob,
    a XEP-0447 file-sharing element, and the URL serves data."""
    assert re.fullmatch(r"https?://\S+", m.body), m.body
    assert m.oob_url == m.body
    assert m.file_sharing is not None, m.xml
    with urllib.request.urlopen(m.body, timeout=10) as r:
        got = r.read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()


def test_three_pages_with_more(env):
    body = env.in_room("!list many").body
    lines = body.split("\n")
    assert lines[-1] == "page 1/3 · 27 results · say !more for the next 10"
    first = file_lines(body)
    assert [p for _, p, _ in first] == [f"many/f{i:02d}.txt"
                                        for i in range(10)]
    body = env.in_room("!more").body
    assert [p for _, p, _ in file_lines(body)] == [
        f"many/f{i:02d}.txt" for i in range(10, 20)]
    assert body.split("\n")[-1] == \
        "page 2/3 · 27 results · say !more for the next 7"
    body = env.in_room("!more").body
    assert [p for _, p, _ in file_lines(body)] == [
        f"many/f{i:02d}.txt" for i in range(20, 27)]
    assert body.split("\n")[-1] == "page 3/3 · 27 results"
    assert env.in_room("!more").body == "nothing more to show"


def test_find_silent_without_match_private_with_one(env):
    env.alice.drain()
    env.alice.room(ROOM, "@find nothing-is-called-this")
    env.alice.room(ROOM, "@find ab")  # shorter than find_min_length
    heard = env.alice.collect(3, lambda m: m.frm == env.bot_occupant
                              or m.bare == env.bot.jid)
    assert heard == []
    env.alice.room(ROOM, "@find song")
    m = env.alice.wait(lambda m: m.frm == env.bot_occupant, 10)
    assert m.type == "chat"  # privately, never in the room
    assert [p for _, p, _ in file_lines(m.body)] == ["music/live/song.ogg"]
    # a direct chat gets a hint for a short query
    assert env.direct("find ab").body.startswith("usage: find")


def test_hostile_names_everywhere(env):
    want = sorted(HOSTILE.values())
    replies = []
    for where, ask in places(env):
        body = ask("list evil").body
        replies.append(body)
        assert sorted(p[len("evil/"):] for _, p, _ in file_lines(body)) \
            == want, (where, body)
        for term in ("ctl", "utf8", "lines", "xml<", "fake", "tab"):
            body = ask(f"search {term}").body
            replies.append(body)
            assert len(file_lines(body)) == 1, (where, term, body)
    body = env.direct("new 50").body
    replies.append(body)
    by_path = {p: i for i, p, _ in file_lines(body)}
    for name, shown in HOSTILE.items():
        fid = by_path["evil/" + shown]
        body = env.direct(f"info {fid}").body
        replies.append(body)
        assert f"path: evil/{shown}" in body.split("\n")
        assert "sha-256: " + hashlib.sha256(env.hostile[name]).hexdigest() \
            in body.split("\n")
        m = env.in_room(f"!get {fid}")
        check_link(m, env.hostile[name])
        replies.append(m.xml)
    for r in replies:
        assert clean(r), r
    # the bot is still connected and answering
    assert env.bot.alive()
    assert env.direct("stats").body.startswith("files: ")


def test_announcements_are_batched(env):
    env.alice.drain()
    for i, size in enumerate((1 << 20, 3 << 20, 12)):
        write(env.bot.share / "fresh" / f"new{i}.bin", b"n" * size)
    env.n_files += 3
    m = env.alice.wait(lambda m: m.frm == env.bot_occupant
                       and m.type == "groupchat", 20)
    assert re.fullmatch(
        r"3 new files: #\d+ fresh/new0.bin \(1.0 MiB\), #\d+ "
        r"fresh/new1.bin \(3.0 MiB\), #\d+ fresh/new2.bin \(12 B\)",
        m.body), m.body
    # one message for the three, not one per file
    assert env.alice.collect(3, lambda m: m.frm == env.bot_occupant
                             and m.type == "groupchat") == []
    # a hostile name is announced escaped
    write_raw(env.bot.share / "fresh", b"ann\x1b[0m\nounce\xfe.txt", b"h")
    env.n_files += 1
    m = env.alice.wait(lambda m: m.frm == env.bot_occupant
                       and m.type == "groupchat", 20)
    assert re.fullmatch(r"1 new file: #\d+ fresh/ann\\x1B\[0m\\x0Aounce"
                        r"\\xFE\.txt \(1 B\)", m.body), m.body


def test_two_bots_never_answer_each_other(env, tmp_path):
    """SLOW (about 45 s). Two fisbots with different shares in one room,
    the second replying in the room
    (room_replies = room, so any reply to the other bot would be seen).
    An @find gets answers from both; then 30 s of commands and
    announcements must not start a conversation between them."""
    other = Fisbot(tmp_path / "bot2", env.prosody, "bot2", rooms=[ROOM],
                   nick="fisbot2", extra=LIMITS + textwrap.dedent("""
        [commands]
        room_replies = room

        [announce]
        batch = 1s
        """))
    write(other.share / "shared-name-beta.txt", b"beta")
    other.start()
    try:
        env.wait_joined(env.alice, "fisbot2")
        occ2 = f"{ROOM}/fisbot2"
        deadline = time.monotonic() + 20
        while True:  # wait until bot2 indexed its share
            env.alice.drain()
            env.alice.send(occ2, "search shared-name")
            m = env.alice.wait(lambda m: m.frm == occ2, 10)
            if file_lines(m.body):
                break
            assert time.monotonic() < deadline, m.body
            time.sleep(0.3)
        write(env.bot.share / "shared-name-alpha.txt", b"alpha")
        env.n_files += 1
        env.alice.wait(lambda m: m.frm == env.bot_occupant
                       and m.type == "groupchat", 20)  # announced

        env.alice.drain()
        env.alice.room(ROOM, "@find shared-name")
        got = env.alice.collect(5, lambda m: m.frm in (env.bot_occupant,
                                                       occ2))
        assert sorted((m.frm, m.type) for m in got) == sorted(
            [(env.bot_occupant, "chat"), (occ2, "chat")]), got
        assert "shared-name-alpha.txt" in [m.body for m in got
                                           if m.frm == env.bot_occupant][0]
        assert "shared-name-beta.txt" in [m.body for m in got
                                          if m.frm == occ2][0]

        # 30 s of traffic: room commands both bots see, files announced
        # by both. Every bot message in the room must be accounted for.
        env.alice.drain()
        expected_room = 0
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < 30:
            env.alice.room(ROOM, "!stats")  # bot2 answers in the room
            expected_room += 1
            env.alice.room(ROOM, "@find shared-name")
            if i % 5 == 0:
                write(other.share / f"more{i}.txt", b"m")
                write(env.bot.share / f"more{i}.txt", b"m")
            i += 1
            time.sleep(1)
        heard = env.alice.collect(5, lambda m: m.frm in (env.bot_occupant,
                                                         occ2))
        room_msgs = [m for m in heard if m.type == "groupchat"]
        announces = [m for m in room_msgs if " new file" in m.body]
        # answers in the room start with the requester's nick
        replies = [m for m in room_msgs
                   if m.body.startswith("alice: files: ")]
        others = [m for m in room_msgs if m not in announces
                  and m not in replies]
        assert others == [], others
        assert len(replies) == expected_room
        assert all(m.frm == occ2 for m in replies)
        # each bot announced its new files, in few messages
        assert 1 <= len([m for m in announces if m.frm == occ2]) <= 7
        assert 1 <= len([m for m in announces
                         if m.frm == env.bot_occupant]) <= 7
        env.n_files += 6
        assert other.alive() and env.bot.alive()
    finally:
        assert other.stop() == 0, other.log_text()
