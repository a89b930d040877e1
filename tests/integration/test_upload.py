"""The `upload` chat command end to end: a
real Prosody, the real fisbot with the upload plugin, slixmpp clients that
ask for URLs in direct chats, MUC private messages and a room, and real
HTTP PUTs of what they got; then the catalogue (`fisbot info`, and the
database for the uploader).

The HTTP side's corner cases (lengths, reuse, races, timeouts, full disk)
are in test_upload_http.py.
"""
import hashlib
import http.client
import os
import sqlite3
import subprocess
import textwrap
import time
import urllib.parse

import pytest

from conftest_shared import FISBOT_BIN
from fisbot_proc import FisbotProc
from prosody import Prosody, free_port
from xmpp_client import Client

PLUGIN_DIR = os.environ.get("FISBOT_PLUGIN_DIR", "")
MUC = "conference.localhost"
OPEN_ROOM = f"uploads@{MUC}"     # real JIDs visible to everyone
HIDDEN_ROOM = f"hidden@{MUC}"    # semi-anonymous (Prosody's default)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user in ("bot", "bot2"):
        p.register(user, "secret")
    for user in ("alice", "mallory", "carol"):
        p.register(user, "pw")
    p.start()
    yield p
    p.stop()


def client(server, user):
    return Client(server, user, "pw")


@pytest.fixture(scope="module")
def alice(server):
    c = client(server, "alice")
    # Alice owns both rooms; one shows real JIDs to everyone.
    assert c.join(OPEN_ROOM, "alice").type != "error"
    c.configure(OPEN_ROOM, {"muc#roomconfig_whois": "anyone"})
    assert c.join(HIDDEN_ROOM, "alice").type != "error"
    yield c
    c.close()


@pytest.fixture(scope="module")
def mallory(server):
    c = client(server, "mallory")
    yield c
    c.close()


class UploadBot:
    """A fisbot with the upload plugin, its HTTP server on a known port."""

    def __init__(self, server, folder, user="bot", upload="", rooms=()):
        self.port = free_port()
        self.proc = FisbotProc(server, folder, user=user)
        self.dir = self.proc.dir
        self.db = self.dir / "fisbot.db"
        self.jid = f"{user}@localhost"
        self.upload = textwrap.dedent(upload)
        self.server = server
        self.rooms = rooms
        self.write_config()
        self.proc.start()
        self.proc.wait_log(f"online as {self.jid}", timeout=30)
        for r in rooms:
            self.proc.wait_log(f"joined {r}", timeout=30)

    def write_config(self, upload=None):
        if upload is not None:
            self.upload = textwrap.dedent(upload)
        xmpp = self.server.fisbot_xmpp_config(
            self.jid.split("@")[0], "secret", "nick = fisbot\n")
        if self.rooms:
            xmpp += "rooms = " + ", ".join(self.rooms) + "\n"
        plugins = f"path = {PLUGIN_DIR}\n" if PLUGIN_DIR else ""
        self.proc.config.write_text(xmpp + textwrap.dedent(f"""
            [share]
            path = share
            database = fisbot.db
            settle = 100ms

            [http]
            listen = 127.0.0.1:{self.port}
            base_url = http://127.0.0.1:{self.port}/files

            [limits]
            burst = 1000

            [plugins]
            {plugins}load = help, upload

            [upload]
            """) + self.upload)

    def stop(self):
        assert self.proc.stop() == 0, self.proc.log()[-3000:]

    def row(self, path):
        """(uploader, size) of path in the catalogue, or None."""
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            # Paths are stored as bytes (BLOB).
            return db.execute("SELECT uploader, size FROM files "
                              "WHERE path = ?",
                              (os.fsencode(path),)).fetchone()
        finally:
            db.close()

    def wait_row(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.row(path)
            if r is not None and r[0] is not None:
                return r
            time.sleep(0.05)
        raise AssertionError(f"{path} never catalogued with its uploader; "
                             + self.proc.log()[-3000:])

    def info(self, path):
        """`fisbot info` as a dict, once the file is hashed."""
        deadline = time.monotonic() + 60
        while True:
            r = subprocess.run([FISBOT_BIN, "info", "-c",
                                str(self.proc.config), path],
                               capture_output=True, timeout=60)
            out = dict(line.partition(": ")[::2] for line in
                       r.stdout.decode().splitlines())
            if r.returncode == 0 and \
                    out.get("sha-256", "(").startswith("(") is False:
                return out
            assert time.monotonic() < deadline, (r.stdout, r.stderr)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def bot(server, alice, tmp_path_factory):
    b = UploadBot(server, tmp_path_factory.mktemp("bot"), rooms=(
        OPEN_ROOM, HIDDEN_ROOM), upload="""
        enabled = yes
        allow = alice@localhost, carol@localhost
        max_file_size = 200M
        quota = 1G
        folder = incoming
        """)
    yield b
    b.stop()


def ask(c, to, body, private_room=None):
    """Sends body to the bot (a direct chat, or a MUC private message
    when private_room is set) and returns the reply's body."""
    since = c.mark()
    if private_room:
        c.private(private_room, "fisbot", body)
        frm = f"{private_room}/fisbot"
    else:
        c.message(to, body)
        frm = to
    return c.wait_message(lambda m: m.frm.split("/")[0] == frm.split("/")[0]
                          and (private_room is None or m.frm == frm),
                          timeout=15, since=since).body


def wait_reply(c, to, body, pred, timeout=15):
    """Asks again until the reply satisfies pred (a reload is being
    applied); returns that reply."""
    deadline = time.monotonic() + timeout
    while True:
        reply = ask(c, to, body)
        if pred(reply):
            return reply
        assert time.monotonic() < deadline, reply
        time.sleep(0.2)


def url_of(reply):
    """The URL line of an upload reply, checked, as a path."""
    lines = reply.splitlines()
    assert len(lines) == 2, reply
    assert lines[0].startswith("PUT exactly "), reply
    assert "within 5 minutes" in lines[0]
    return lines[1]


def put(bot, url, data):
    u = urllib.parse.urlsplit(url)
    assert (u.hostname, u.port) == ("127.0.0.1", bot.port)
    assert u.path.startswith("/files/u/")
    # The server is reached directly, as a proxy would strip /files.
    c = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=120)
    c.putrequest("PUT", u.path[len("/files"):])
    c.putheader("Content-Length", str(len(data)))
    c.endheaders()
    view = memoryview(data)
    for i in range(0, len(data), 1 << 20):
        c.send(view[i:i + (1 << 20)])
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, text


def test_direct_chat_upload_is_catalogued(bot, alice):
    data = b"some bytes\n" * 300
    reply = ask(alice, bot.jid, f"upload notes.txt {len(data)}")
    assert f"({len(data)} bytes)" in reply
    assert "incoming/notes.txt" in reply
    status, text = put(bot, url_of(reply), data)
    assert (status, text) == (201, "stored as incoming/notes.txt\n")
    assert bot.wait_row("incoming/notes.txt") == ("alice@localhost",
                                                  len(data))
    assert bot.info("incoming/notes.txt")["sha-256"] == \
        hashlib.sha256(data).hexdigest()
    # The same URL again: 409.
    assert put(bot, url_of(reply), data)[0] == 409


def test_taken_name_is_named_in_the_reply(bot, alice):
    """A name that is taken: the reply names the file as it will be
    stored ("hello (1).txt"), as the HTTP reply does."""
    folder = bot.dir / "share" / "incoming"
    folder.mkdir(exist_ok=True)
    (folder / "taken.txt").write_text("here first\n")
    reply = ask(alice, bot.jid, "upload taken.txt 5")
    assert "the file will be incoming/taken (1).txt:" in reply, reply
    status, text = put(bot, url_of(reply), b"mine\n")
    assert (status, text) == (201, "stored as incoming/taken (1).txt\n")
    (folder / "taken (1).txt").unlink()
    (folder / "taken.txt").unlink()


def test_100_mib_upload_sha256(bot, alice):
    data = os.urandom(1 << 20) * 100
    sent = hashlib.sha256(data).hexdigest()
    reply = ask(alice, bot.jid, "upload big.bin 100M")
    assert "(104857600 bytes)" in reply
    assert put(bot, url_of(reply), data)[0] == 201
    info = bot.info("incoming/big.bin")
    assert info["sha-256"] == sent
    assert bot.row("incoming/big.bin") == ("alice@localhost", len(data))


def test_name_with_spaces_and_made_safe(bot, alice):
    reply = ask(alice, bot.jid, "upload my holiday/photo.jpg 1K")
    assert "incoming/my holiday_photo.jpg" in reply
    assert put(bot, url_of(reply), b"j" * 1024) == (
        201, "stored as incoming/my holiday_photo.jpg\n")
    reply = ask(alice, bot.jid, 'upload ".hidden name" 1')
    assert "incoming/hidden name" in reply


def test_refusals(bot, alice, mallory):
    assert ask(mallory, bot.jid, "upload x 1") == \
        "you are not allowed to upload"
    assert ask(alice, bot.jid, "upload x 201M") == \
        "too large: 201.0 MiB (210763776 bytes); the limit is 200.0 MiB"
    assert ask(alice, bot.jid, "upload x lots") == \
        "not a size: lots (write 512, 10K, 5M, 2G)"
    assert ask(alice, bot.jid, "upload x.part 1").startswith(
        'files named like "x.part" are not shared')
    assert ask(alice, bot.jid, "upload onlyname").startswith("usage: ")


def test_muc_private_message_with_real_jid(bot, alice):
    reply = ask(alice, None, "upload from-room.txt 5",
                private_room=OPEN_ROOM)
    assert put(bot, url_of(reply), b"hello")[0] == 201
    assert bot.wait_row("incoming/from-room.txt") == ("alice@localhost", 5)


def test_anonymous_room_refused(bot, alice):
    assert ask(alice, None, "upload x 5", private_room=HIDDEN_ROOM) == (
        "this room hides your real JID, and uploads need it; ask in a "
        "direct chat")


def test_not_in_the_room_itself(bot, alice):
    since = alice.mark()
    alice.groupchat(OPEN_ROOM, "!upload x 5")
    m = alice.wait_message(lambda m: m.frm.startswith(OPEN_ROOM + "/fisbot")
                           and "upload" in m.body, since=since)
    assert m.body == ("ask for an upload URL in a private message or a "
                      "direct chat, not in the room")


def test_quota_exactly_and_disabled(server, tmp_path):
    carol = client(server, "carol")
    b = UploadBot(server, tmp_path / "bot2", user="bot2", upload="""
        enabled = yes
        allow = carol@localhost
        max_file_size = 8K
        quota = 8K
        """)
    try:
        assert put(b, url_of(ask(carol, b.jid, "upload a.bin 6K")),
                   b"a" * 6144)[0] == 201
        assert put(b, url_of(ask(carol, b.jid, "upload b.bin 2K")),
                   b"b" * 2048)[0] == 201
        b.wait_row("incoming/a.bin")
        b.wait_row("incoming/b.bin")
        # Exactly at the quota: one more byte is refused.
        assert ask(carol, b.jid, "upload c.bin 1") == (
            "over your quota: you store 8.0 KiB of 8.0 KiB, and this file "
            "needs 1 B")
        # A reload raises the quota: the new URL carries the new quota,
        # and the HTTP side honours it.
        b.write_config(upload="""
            enabled = yes
            allow = carol@localhost
            max_file_size = 8K
            quota = 9K
            """)
        b.proc.reload()
        reply = wait_reply(carol, b.jid, "upload c.bin 1K",
                           lambda r: r.startswith("PUT exactly"))
        assert put(b, url_of(reply), b"c" * 1024)[0] == 201
        b.wait_row("incoming/c.bin")
        # Switched off by a reload.
        b.write_config(upload="""
            enabled = no
            allow = carol@localhost
            """)
        b.proc.reload()
        assert wait_reply(carol, b.jid, "upload d.bin 1",
                          lambda r: r == "uploads are disabled")
    finally:
        b.stop()
        carol.close()
