"""Origin checks: a peer can forge any stanza, so a muc#user
element does not make its sender a room and an <item jid> is only as true
as the room that sent it.

Each test plays Mallory against the real fisbot on a real Prosody with raw
stanzas: forged mediated and direct invitations, a fake room that claims
an allowed uploader's JID, rooms remembered from a forged invitation, a
flood of forged invitations; and checks the genuine cases: declines through
the room with their reason, and a requester's identity (rate limit,
`more`) surviving a nick change in a semi-anonymous room.
"""
import os
import sqlite3
import textwrap
import time
from xml.sax.saxutils import quoteattr

import pytest

from fisbot_proc import FisbotProc, PLUGIN_DIR
from conftest_shared import FISBOT_BIN, run_fisbot, sanitized
from prosody import Prosody
from xmpp_client import Client, NS_MUC_USER

MUC = "conference.localhost"
BOTS = [f"bot{i}" for i in range(1, 9)]
NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"


def make_server(folder, occupant_id=True):
    p = Prosody(folder)
    if not occupant_id:
        # The MUC component's section is the last one of the file.
        p.config.write_text(p.config.read_text() +
                            "    muc_occupant_id = false\n")
    for user in BOTS:
        p.register(user, "secret")
    for user in ("alice", "mallory", "carol", "admin"):
        p.register(user, "pw")
    return p.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = make_server(tmp_path_factory.mktemp("prosody"))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def alice(server):
    c = Client(server, "alice", "pw")
    yield c
    c.close()


@pytest.fixture
def mallory(server):
    """Mallory, logged in with the resource the bot would use as its nick
    in her fake room, so every stanza sent to the fake room reaches her."""
    c = Client(server, "mallory", "pw", resource="fisbot")
    yield c
    c.close()


@pytest.fixture
def bots(tmp_path):
    """Makes fisbots (bot(server, user, extra, ...)) and stops them after
    the test."""
    made = []

    def make(server, user, extra="", rooms=(), plugins="help, admin"):
        b = FisbotProc(server, tmp_path / f"{user}-{len(made)}",
                       rooms=rooms, user=user)
        xmpp = server.fisbot_xmpp_config(user, "secret")
        if rooms:
            xmpp += "rooms = " + ", ".join(rooms) + "\n"
        path = f"path = {PLUGIN_DIR}\n" if PLUGIN_DIR else ""
        b.config.write_text(xmpp + textwrap.dedent(f"""
            [share]
            path = share
            database = fisbot.db
            settle = 100ms

            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080

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


def saved_rooms(bot):
    """The rooms remembered in the bot's catalogue."""
    db = sqlite3.connect(f"file:{bot.dir / 'fisbot.db'}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT room FROM rooms")}
    finally:
        db.close()


def from_bot(user):
    """A predicate: any stanza the bot (user@localhost) sent us."""
    return lambda s: s.frm.split("/")[0] == f"{user}@localhost"


def forged_mediated(client, to, claimed_from, extra=""):
    """A mediated invitation sent straight from the client's own JID,
    claiming to be relayed by a room on behalf of claimed_from."""
    client.send_raw(f"<message xmlns='jabber:client' to={quoteattr(to)}>"
                    f"<x xmlns='{NS_MUC_USER}'><invite from="
                    f"{quoteattr(claimed_from)}><reason>join us</reason>"
                    f"</invite>{extra}</x></message>")


def ask_direct(client, to, body, timeout=15):
    """Sends body in a direct chat and returns the reply."""
    since = client.mark()
    client.message(to, body)
    return client.wait_message(lambda m: m.frm.split("/")[0] == to,
                               timeout, since)


def wait_online(client, to, timeout=15):
    """Asks `help` until the bot answers (its first presence may not have
    reached the server yet: then the server bounces the message)."""
    deadline = time.monotonic() + timeout
    while True:
        since = client.mark()
        client.message(to, "help")
        m = client.wait(lambda s: s.kind == "message" and
                        s.frm.split("/")[0] == to, 10, since)
        if m.type != "error":
            return m
        assert time.monotonic() < deadline, m
        time.sleep(0.2)


def cpu_seconds(bot):
    """User and system CPU time the bot has used so far."""
    with open(f"/proc/{bot.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(bot):
    with open(f"/proc/{bot.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_forged_mediated_invitation_ignored(server, mallory, bots):
    """Mallory claims, from her own JID, to relay admin's invitation: the
    bot checks her service, finds no room, and neither joins nor
    remembers her "room", even after a restart."""
    bot = bots(server, "bot1", """
        [invites]
        accept = allowlist
        allow = admin@localhost
        """).start()
    bot.wait_log("online as bot1@localhost")
    mark = mallory.mark()
    forged_mediated(mallory, "bot1@localhost", "admin@localhost")
    log = bot.wait_log("ignoring a forged mediated invitation")
    assert "mallory@localhost" in log.split(
        "ignoring a forged mediated invitation")[1].splitlines()[0]
    mallory.none(from_bot("bot1"), 2.0, mark)
    assert "mallory@localhost" not in saved_rooms(bot)
    assert "joining mallory@localhost" not in bot.log()

    # Nothing was remembered: a restart does not go there either.
    assert bot.stop() == 0
    mark = mallory.mark()
    bot.start()
    bot.wait_log("online as bot1@localhost")
    mallory.none(from_bot("bot1"), 2.0, mark)
    assert "mallory@localhost" not in saved_rooms(bot)


def test_direct_invitation_to_a_user_jid_ignored(server, mallory, bots):
    """Even where anyone may invite, a direct invitation to "a room" that
    is a user's JID is not followed."""
    bot = bots(server, "bot2", """
        [invites]
        accept = anyone
        """).start()
    bot.wait_log("online as bot2@localhost")
    mark = mallory.mark()
    mallory.invite_direct("mallory@localhost", "bot2@localhost")
    bot.wait_log("ignoring a direct invitation")
    mallory.none(from_bot("bot2"), 2.0, mark)
    assert "mallory@localhost" not in saved_rooms(bot)


def test_fake_room_item_jid_gets_no_upload_url(server, mallory, bots):
    """The attack as reported: a forged invitation, then a fake room whose
    occupant claims (<item jid>) to be an allowed uploader. No upload URL,
    no join presence; the bot still answers Mallory as herself."""
    bot = bots(server, "bot3", """
        [invites]
        accept = allowlist
        allow = admin@localhost

        [upload]
        enabled = yes
        allow = admin@localhost
        folder = incoming
        """, plugins="help, upload").start()
    bot.wait_log("online as bot3@localhost")
    fake = "mallory@localhost"
    occupant = Client(server, "mallory", "pw", resource="admin")
    try:
        mark = mallory.mark()
        forged_mediated(mallory, "bot3@localhost", "admin@localhost")
        # Whatever the bot did with it, the fake room answers as a room
        # would: the bot's own presence (110), then an occupant who is
        # "admin@localhost".
        mallory.send_raw(
            "<presence xmlns='jabber:client' to='bot3@localhost/fisbot'>"
            f"<x xmlns='{NS_MUC_USER}'><item affiliation='member' "
            "role='participant'/><status code='110'/></x></presence>")
        occupant.send_raw(
            "<presence xmlns='jabber:client' to='bot3@localhost/fisbot'>"
            f"<x xmlns='{NS_MUC_USER}'><item affiliation='owner' "
            "role='moderator' jid='admin@localhost/laptop'/></x>"
            "</presence>")
        omark = occupant.mark()
        occupant.send_raw(
            "<message xmlns='jabber:client' to='bot3@localhost/fisbot' "
            "type='chat'><body>upload evil.bin 5</body>"
            f"<x xmlns='{NS_MUC_USER}'/></message>")
        occupant.send_raw(
            "<message xmlns='jabber:client' to='bot3@localhost/fisbot' "
            "type='groupchat'><body>!upload evil2.bin 5</body></message>")
        occupant.none(lambda s: s.body is not None and
                      "PUT" in s.body, 3.0, omark)
        mallory.none(from_bot("bot3"), 0.1, mark)
        assert fake not in saved_rooms(bot)
        # The bot is alive and knows Mallory for who she is.
        reply = ask_direct(occupant, "bot3@localhost", "upload x.bin 5")
        assert "PUT" not in reply.body, reply
    finally:
        occupant.close()


def test_saved_fake_room_dropped_at_start(server, alice, mallory, bots):
    """A room remembered from a forged invitation (by an older version)
    is checked at start: dropped from the catalogue, never joined; a
    genuine remembered room is rejoined."""
    good = room("remembered")
    alice.join(good, "alice")
    bot = bots(server, "bot4").start()
    bot.wait_log("online as bot4@localhost")
    assert bot.stop() == 0
    db = sqlite3.connect(bot.dir / "fisbot.db")
    db.execute("INSERT INTO rooms (room, nick) VALUES (?, NULL), (?, NULL)",
               ("mallory@localhost", good))
    db.commit()
    db.close()

    mark, amark = mallory.mark(), alice.mark()
    bot.start()
    alice.occupant_presence(good, "fisbot", since=amark, timeout=20)
    deadline = time.monotonic() + 15
    while "mallory@localhost" in saved_rooms(bot):
        assert time.monotonic() < deadline, bot.log()[-3000:]
        time.sleep(0.1)
    assert saved_rooms(bot) == {good}
    bot.wait_log("leaving mallory@localhost for good")
    mallory.none(from_bot("bot4"), 1.0, mark)


def test_declines_through_the_room(server, alice, bots):
    """Refused mediated invitations from genuine rooms are declined
    through the room, to the inviter, with the reason."""
    carol = Client(server, "carol", "pw")
    configured = room("declines-home")
    try:
        bot = bots(server, "bot5", """
            [invites]
            accept = allowlist
            allow = alice@localhost
            max_rooms = 1
            """, rooms=[configured]).start()
        bot.wait_log(f"joined {configured}")

        def decline(client, r, since):
            m = client.wait(lambda s: s.kind == "message" and s.frm == r and
                            s.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}"
                                   "decline") is not None, 15, since)
            d = m.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}decline")
            assert d.get("from", "").startswith("bot5@localhost"), m
            return d.findtext(f"{{{NS_MUC_USER}}}reason")

        # Semi-anonymous (Prosody's default): the room shows the bot
        # carol's occupant JID, not her real one.
        anon = room("declines-anon")
        carol.join(anon, "carol")
        mark = carol.mark()
        carol.invite_mediated(anon, "bot5@localhost")
        reason = decline(carol, anon, mark)
        assert "your real JID is hidden" in reason
        assert "XEP-0249" in reason

        # Non-anonymous: carol's real JID is not on the list.
        assert carol.configure(anon, {"muc#roomconfig_whois": "anyone"}
                               ).type == "result"
        mark = carol.mark()
        carol.invite_mediated(anon, "bot5@localhost")
        assert decline(carol, anon, mark) == "not on the invite list"

        # Alice may invite, but the bot is in max_rooms rooms already.
        full = room("declines-full")
        alice.join(full, "alice")
        assert alice.configure(full, {"muc#roomconfig_whois": "anyone"}
                               ).type == "result"
        mark = alice.mark()
        alice.invite_mediated(full, "bot5@localhost")
        assert "too many rooms" in decline(alice, full, mark)
        bot.wait_log(f"refusing an invitation to {full} from "
                     "alice@localhost: already in 1 rooms (max_rooms)")

        # A forged invitation gets no decline (and nothing else).
        mark = carol.mark()
        forged_mediated(carol, "bot5@localhost", "carol@localhost")
        bot.wait_log("ignoring a forged mediated invitation")
        carol.none(lambda s: s.kind == "message", 1.0, mark)
    finally:
        carol.close()


def test_forged_invitation_flood(server, alice, mallory, bots):
    """1000 forged invitations: mediated ones from Mallory's own JID, direct
    ones to "rooms" that are user JIDs, and direct ones to rooms on 400
    different services. Each service is asked at most once, the log gets
    a few lines, memory stays flat, a command is answered promptly and the
    bot goes nowhere."""
    bot = bots(server, "bot6", """
        [invites]
        accept = anyone
        """).start()
    bot.wait_log("online as bot6@localhost")
    wait_online(alice, "bot6@localhost")
    before, cpu0 = rss_kib(bot), cpu_seconds(bot)
    mark = mallory.mark()
    junk = f"<password>{'x' * 200}</password>"
    for i in range(1000):
        if i % 3 == 0:
            forged_mediated(mallory, "bot6@localhost", f"admin{i}@localhost",
                            junk)
        elif i % 3 == 1:
            mallory.invite_direct(f"user{i}@localhost", "bot6@localhost")
        else:
            mallory.invite_direct(f"room@svc{i % 400}.invalid",
                                  "bot6@localhost")
    # Asked on the same stream as the flood, so after all of it.
    t0 = time.monotonic()
    reply = ask_direct(mallory, "bot6@localhost", "help", timeout=60)
    took = time.monotonic() - t0
    assert reply.type != "error" and "help" in reply.body, reply
    cpu = cpu_seconds(bot) - cpu0
    time.sleep(1.0)
    after = rss_kib(bot)
    log = bot.log()
    asked = [line.split("asking ")[1].split()[0] for line in
             log.splitlines() if "whether it is a room service" in line
             and "asking " in line]
    lines = sum(1 for line in log.splitlines() if " info: " in line and
                "invitation" in line)
    print(f"flood: help answered in {took:.3f}s; bot CPU {cpu:.2f}s; RSS "
          f"{before} -> {after} KiB; {len(asked)} disco#info queries; "
          f"{lines} log lines")
    assert asked.count("localhost") == 1, log[-3000:]
    assert len(asked) == len(set(asked)), asked
    assert len(asked) <= 1 + 400
    assert 1 <= lines <= 40, lines
    if not sanitized(FISBOT_BIN):  # ASan's quarantine keeps freed memory
        assert after - before < 16 * 1024, (before, after)
    assert took < 30
    assert "joining" not in log
    assert saved_rooms(bot) == set()
    # Mallory got her answer, and nothing else: no join, no decline.
    mallory.none(lambda s: from_bot("bot6")(s) and s is not reply, 0.5,
                 mark)


@pytest.fixture(scope="module")
def server_no_occupant_id(tmp_path_factory):
    p = make_server(tmp_path_factory.mktemp("prosody-noid"),
                    occupant_id=False)
    yield p
    p.stop()


@pytest.mark.parametrize("occupant_id", [True, False],
                         ids=["occupant-id", "nick-change-303"])
def test_nick_change_keeps_rate_limit_and_more(
        request, occupant_id, bots, tmp_path):
    """In a semi-anonymous room a requester is the occupant-id (XEP-0421),
    or without one the occupancy followed across nick changes (status
    303): a new nick neither resets the rate limit nor loses `more`."""
    server = request.getfixturevalue(
        "server" if occupant_id else "server_no_occupant_id")
    r = room(f"nicks-{'oid' if occupant_id else '303'}")
    carol = Client(server, "carol", "pw", resource=f"nick{occupant_id}")
    try:
        own = carol.join(r, "carol1")
        has_oid = own.find(f"{{{NS_OCCUPANT_ID}}}occupant-id") is not None
        assert has_oid == occupant_id
        bot = bots(server, "bot7", """
            [commands]
            page_size = 2

            [limits]
            burst = 4
            rate = 1/m
            """, rooms=[r], plugins="help, browse")
        for i in range(5):
            (bot.share / f"file{i}.txt").write_text(f"{i}\n")
        # The catalogue is complete before the bot starts: no command is
        # spent waiting for the first scan.
        assert run_fisbot("scan", config=bot.config).returncode == 0
        mark = carol.mark()
        bot.start()
        carol.occupant_presence(r, "fisbot", since=mark, timeout=20)
        bot.wait_log(f"{r} is ready", timeout=20)

        def ask(body):
            since = carol.mark()
            carol.groupchat(r, body)
            return carol.wait_message(
                lambda m: m.frm == f"{r}/fisbot" and m.type == "chat",
                15, since).body

        def nick(new):
            since = carol.mark()
            carol.send_raw(f"<presence xmlns='jabber:client' "
                           f"to={quoteattr(r + '/' + new)}/>")
            carol.occupant_presence(r, new, since=since)

        assert "page 1/3" in ask("!list")
        nick("carol2")
        assert "page 2/3" in ask("!more")
        for _ in range(2):
            assert not ask("!help").startswith("slow down")
        # The burst (4) is spent: a new nick is still the same requester.
        nick("carol3")
        assert ask("!help").startswith("slow down")
    finally:
        carol.close()
