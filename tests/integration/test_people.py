"""What people meet in chat, end to end on a real Prosody with slixmpp
clients and the real fisbot: presence subscriptions ([xmpp]
subscriptions), help filtered and ordered, admins told the outcome of
`rescan` and `join`, invitations declined with their reason in
semi-anonymous rooms, a quiet first build (announcements only for files
added while the bot was down), and `still indexing` while the first scan
runs.
"""
import re
import sqlite3
import textwrap
import time

import pytest

from fisbot_proc import FisbotProc, PLUGIN_DIR
from prosody import Prosody
from xmpp_client import Client, NS_MUC_USER

MUC = "conference.localhost"
BOTS = [f"bot{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user in BOTS:
        p.register(user, "secret")
    for user in ("alice", "admin", "mallory", "carol"):
        p.register(user, "pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def alice(server):
    c = Client(server, "alice", "pw")
    yield c
    c.close()


@pytest.fixture(scope="module")
def admin(server):
    c = Client(server, "admin", "pw")
    yield c
    c.close()


@pytest.fixture
def bots(tmp_path):
    """Makes fisbots (make(server, user, extra, rooms, plugins)) and stops
    them after the test."""
    made = []

    def make(server, user, extra="", rooms=(), plugins="help, admin",
             files=None, xmpp_extra=""):
        b = FisbotProc(server, tmp_path / f"{user}-{len(made)}", user=user)
        for name, data in (files or {}).items():
            (b.share / name).parent.mkdir(parents=True, exist_ok=True)
            (b.share / name).write_bytes(data)
        xmpp = server.fisbot_xmpp_config(user, "secret", xmpp_extra)
        if rooms:
            xmpp += "rooms = " + ", ".join(rooms) + "\n"
        path = f"path = {PLUGIN_DIR}\n" if PLUGIN_DIR else ""
        b.config.write_text(xmpp + textwrap.dedent(f"""
            [admins]
            jids = admin@localhost

            [share]
            path = share
            database = fisbot.db
            settle = 100ms

            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080

            [limits]
            burst = 100

            [plugins]
            {path}load = {plugins}
            """) + textwrap.dedent(extra))
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


def room(name):
    return f"{name}@{MUC}"


def ask(client, bot_jid, body, timeout=15):
    """Sends body to the bot in a direct chat; returns the reply's body."""
    since = client.mark()
    client.message(bot_jid, body)
    return client.wait_message(lambda m: m.frm.startswith(bot_jid + "/"),
                               timeout, since).body


def until_online(client, bot_jid, timeout=30):
    """Waits until the bot answers a direct message: "connected" comes
    before its first presence, and until then the server answers messages
    to its bare JID with service-unavailable."""
    deadline = time.monotonic() + timeout
    retried = False
    while True:
        try:
            ask(client, bot_jid, "help", 3)
            if retried:
                time.sleep(3)  # a late answer to an earlier try
            return
        except AssertionError:
            retried = True
            if time.monotonic() > deadline:
                raise


def saved_rooms(bot):
    db = sqlite3.connect(f"file:{bot.dir / 'fisbot.db'}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT room FROM rooms")}
    finally:
        db.close()


# --- presence subscriptions ------------------------------------------------

def test_subscriptions_allowlist(server, bots):
    """subscriptions = allowlist: an allowed user's request is approved and
    returned, and the bot then shows online in her roster; a stranger's
    is refused."""
    bot = bots(server, "bot1", """
        [invites]
        allow = carol@localhost
        """, xmpp_extra="subscriptions = allowlist\n")
    bot.start()
    bot.wait_log("online as bot1@localhost")
    carol = Client(server, "carol", "pw")
    mallory = Client(server, "mallory", "pw")
    try:
        mark = carol.mark()
        carol.send_raw("<presence xmlns='jabber:client' "
                       "to='bot1@localhost' type='subscribe'/>")
        # Approved (the server turns "subscribed" into a roster push and
        # the bot's presence: it shows online), and the bot asks back.
        carol.wait(lambda s: s.kind == "presence" and
                   s.frm.startswith("bot1@localhost") and
                   s.type == "subscribe", 15, mark)
        carol.wait(lambda s: s.kind == "presence" and
                   s.frm.startswith("bot1@localhost/") and s.type == "",
                   15, mark)
        bot.wait_log("approving the presence subscription of "
                     "carol@localhost")

        mark = mallory.mark()
        mallory.send_raw("<presence xmlns='jabber:client' "
                         "to='bot1@localhost' type='subscribe'/>")
        bot.wait_log("refusing the presence subscription of "
                     "mallory@localhost")
        mallory.none(lambda s: s.kind == "presence" and
                     s.frm.startswith("bot1@localhost") and
                     s.type in ("", "subscribe", "subscribed"), 1.0, mark)
    finally:
        carol.close()
        mallory.close()


# --- help --------------------------------------------------------------------

def test_help_filtered_and_ordered(server, alice, admin, bots):
    """help shows only what the asker may run where it asked, in a
    stable order; upload not while uploads are off."""
    bot = bots(server, "bot2", plugins="admin, upload, stats, help, get, "
               "search, browse").start()
    bot.wait_log("online as bot2@localhost")
    until_online(alice, "bot2@localhost")
    names = [line.split(" ")[0] for line in
             ask(alice, "bot2@localhost", "help").splitlines()[1:]]
    assert names == ["list", "more", "new", "search", "find", "get", "info",
                     "stats", "help"]
    names = [line.split(" ")[0] for line in
             ask(admin, "bot2@localhost", "help").splitlines()[1:]]
    assert names == ["list", "more", "new", "search", "find", "get", "info",
                     "stats", "help", "rescan", "join", "leave", "describe",
                     "reload"]


# --- admins are told ---------------------------------------------------------

def test_admin_rescan_and_join_outcomes(server, alice, admin, bots):
    """rescan answers again with its counts; a join that fails says why
    (no such server, banned, password) and is not remembered; one that
    works says so and is."""
    bot = bots(server, "bot3", files={"a.txt": b"a\n"}).start()
    bot.wait_log("online as bot3@localhost")
    bot.wait_log("reconciled:")
    until_online(admin, "bot3@localhost")
    (bot.share / "b.txt").write_bytes(b"b\n")
    mark = admin.mark()
    admin.message("bot3@localhost", "rescan")
    first = admin.wait_message(lambda m: m.frm.startswith("bot3@"), 15, mark)
    assert first.body == "rescan started"
    done = admin.wait_message(lambda m: m.frm.startswith("bot3@") and
                              m.body.startswith("rescan done"), 30, mark)
    m = re.fullmatch(r"rescan done: added (\d+), changed (\d+), removed 0, "
                     r"unchanged (\d+)", done.body)
    assert m, done.body
    # hello.txt, a.txt and b.txt (which inotify may have seen first).
    assert sum(map(int, m.groups())) == 3, done.body

    # Another server (s2s is off here: the server refuses at once, and
    # says why).
    reply = ask(admin, "bot3@localhost", "join x@nosuch.example")
    assert reply.startswith("cannot join x@nosuch.example: not allowed ("), \
        reply
    # Banned.
    banned = room("people-banned")
    alice.join(banned, "alice")
    assert alice.set_affiliation(banned, "bot3@localhost",
                                 "outcast").type == "result"
    assert ask(admin, "bot3@localhost", f"join {banned}") == \
        f"cannot join {banned}: banned"
    # A password.
    locked = room("people-locked")
    alice.join(locked, "alice")
    assert alice.configure(locked, {
        "muc#roomconfig_passwordprotectedroom": "1",
        "muc#roomconfig_roomsecret": "sesame"}).type == "result"
    assert ask(admin, "bot3@localhost", f"join {locked}") == \
        f"cannot join {locked}: a password is needed, or it is wrong"
    # A room that works.
    fine = room("people-fine")
    alice.join(fine, "alice")
    assert ask(admin, "bot3@localhost", f"join {fine} filebot") == \
        f"joined {fine}"
    assert ask(admin, "bot3@localhost", f"join {fine}") == \
        f"already in {fine}"
    deadline = time.monotonic() + 10
    while saved_rooms(bot) != {fine}:
        assert time.monotonic() < deadline, saved_rooms(bot)
        time.sleep(0.1)
    # Only the one that worked is remembered across a restart.
    bot.stop()
    assert saved_rooms(bot) == {fine}


# --- invitations -------------------------------------------------------------

def test_declines_in_semi_anonymous_rooms(server, bots):
    """In Prosody's default semi-anonymous rooms, a refused mediated
    invitation is declined through the room with its reason: [invites]
    accept = none, max_rooms reached, and an invitation accepted whose
    room then refuses the bot (banned)."""
    carol = Client(server, "carol", "pw")

    def decline(r, since):
        m = carol.wait(lambda s: s.kind == "message" and s.frm == r and
                       s.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}"
                              "decline") is not None, 15, since)
        return m.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}decline/"
                      f"{{{NS_MUC_USER}}}reason").text

    try:
        closed = bots(server, "bot4", """
            [invites]
            accept = none
            """).start()
        closed.wait_log("online as bot4@localhost")
        r = room("people-anon-1")
        carol.join(r, "carol")
        mark = carol.mark()
        carol.invite_mediated(r, "bot4@localhost")
        assert decline(r, mark) == "I accept no invitations"

        home = room("people-home")
        full = bots(server, "bot5", """
            [invites]
            accept = anyone
            max_rooms = 1
            """, rooms=[home]).start()
        full.wait_log(f"joined {home}")
        mark = carol.mark()
        carol.invite_mediated(r, "bot5@localhost")
        assert decline(r, mark) == "I am in too many rooms already"

        banned = room("people-anon-banned")
        carol.join(banned, "carol")
        assert carol.set_affiliation(banned, "bot8@localhost",
                                     "outcast").type == "result"
        open_bot = bots(server, "bot8", """
            [invites]
            accept = anyone
            """).start()
        open_bot.wait_log("online as bot8@localhost")
        mark = carol.mark()
        carol.invite_mediated(banned, "bot8@localhost")
        assert decline(banned, mark) == "I could not join: banned"
        open_bot.wait_log(f"leaving {banned} for good")
        deadline = time.monotonic() + 10
        while saved_rooms(open_bot):
            assert time.monotonic() < deadline, saved_rooms(open_bot)
            time.sleep(0.1)
        # A direct invitation's inviter is told in a chat.
        mark = carol.mark()
        carol.invite_direct(banned, "bot8@localhost")
        m = carol.wait_message(lambda m: m.frm.startswith("bot8@"), 15,
                               mark)
        assert m.body == f"I could not join {banned}: banned"
    finally:
        carol.close()


# --- announcements and the first build ---------------------------------------

def test_quiet_first_build_then_news(server, alice, bots):
    """The first build of an empty catalogue is not announced; a file
    added while the bot was down is, at the next start."""
    news = room("people-news")
    alice.join(news, "alice")
    files = {f"old{i}.txt": b"x" * i for i in range(1, 6)}
    bot = bots(server, "bot6", """
        [announce]
        enabled = yes
        batch = 1s
        """, rooms=[news], plugins="help, announce", files=files)
    mark = alice.mark()
    bot.start()
    bot.wait_log(f"joined {news}")
    bot.wait_log("reconciled:")
    # Well past the batch: nothing said about the first build.
    alice.none(lambda s: s.kind == "message" and
               s.frm.startswith(news) and "new file" in (s.body or ""),
               4.0, mark)
    assert bot.stop() == 0
    (bot.share / "fresh.txt").write_bytes(b"fresh\n")
    mark = alice.mark()
    bot.start()
    m = alice.wait_message(lambda m: m.frm.startswith(news) and
                           "new file" in m.body, 30, mark)
    assert re.fullmatch(r"1 new file: #\d+ fresh\.txt \(6 B\)", m.body), m


def test_still_indexing(server, alice, bots):
    """While the first scan of an empty catalogue runs, search and list
    say so instead of "no match"; after it, the answers are the usual
    ones."""
    files = {f"dir/f{i}.bin": b"y" * i for i in range(1, 4)}
    # Fresh files wait for settle before they are hashed: a long settle
    # keeps the first build running. It counts from the files' mtime, before
    # the bot starts: 30 s leaves room for a slow start-up (ASan, a loaded
    # machine) and the two questions.
    bot = bots(server, "bot7", plugins="help, search, browse", files=files)
    text = bot.config.read_text().replace("settle = 100ms", "settle = 30s")
    bot.config.write_text(text)
    bot.start()
    bot.wait_log("online as bot7@localhost")
    until_online(alice, "bot7@localhost")
    assert ask(alice, "bot7@localhost", "search nothing") == \
        "still indexing: 0 files so far"
    # (Files already found are listed; a folder not found yet is not.)
    assert ask(alice, "bot7@localhost", "list nosuch") == \
        "still indexing: 0 files so far"
    deadline = time.monotonic() + 120
    while True:
        reply = ask(alice, "bot7@localhost", "search nothing")
        if reply == "no match":
            break
        assert reply.startswith("still indexing: "), reply
        assert time.monotonic() < deadline, reply
        time.sleep(0.5)
    assert ask(alice, "bot7@localhost", "list nosuch") == \
        "no such folder: nosuch"
    assert re.fullmatch(r"#\d+ dir/f2\.bin \(2 B\)\npage 1/1 · 1 result",
                        ask(alice, "bot7@localhost", "search f2"))
