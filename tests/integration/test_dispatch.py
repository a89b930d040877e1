"""Chat commands end to end: the real fisbot with its help,
admin and example ping plugins on a real Prosody, driven by slixmpp
clients. Room commands are answered by private message, direct chats need
no prefix, admin commands obey [admins], a flooding user is throttled
while another one is served, and a broken plugin stops the bot at start.
"""
import os
import time
from pathlib import Path

import pytest

try:
    import fisbot_proc
    from fisbot_proc import FisbotProc
    from prosody import Prosody
    from xmpp_client import Client
    HARNESS = None
except ImportError as e:  # the XMPP harness lands with the session
    HARNESS = str(e)

pytestmark = pytest.mark.skipif(HARNESS is not None,
                                reason=f"no XMPP test harness: {HARNESS}")

MUC = "conference.localhost"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
BUILD_PLUGINS = os.environ.get("FISBOT_PLUGIN_DIR", "")
LOAD = f"""
    [plugins]
    path = {BUILD_PLUGINS}
    load = help, admin, ping

    [admins]
    jids = alice@localhost
    """


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user in ("dbot1", "dbot2", "dbot3", "dbot4", "dbot5"):
        p.register(user, "secret")
    for user in ("alice", "mallory", "carol"):
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
def mallory(server):
    c = Client(server, "mallory", "pw")
    yield c
    c.close()


@pytest.fixture
def bots(server, tmp_path, monkeypatch):
    """Makes FisbotProcs and stops them after the test. Each test writes
    its own [plugins] section."""
    made = []
    monkeypatch.setattr(fisbot_proc, "PLUGIN_DIR", "")

    def make(user, rooms=(), extra=LOAD, **kw):
        b = FisbotProc(server, tmp_path / user, rooms=rooms, user=user,
                       extra=extra, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


def room(name):
    return f"{name}@{MUC}"


def from_jid(jid):
    return lambda m: m.frm == jid


def start_in_room(alice, bots, user, r, extra=LOAD):
    """Alice joins r, the bot starts in it; returns the bot once it is
    there and acting on commands."""
    alice.join(r, "alice")
    mark = alice.mark()
    bot = bots(user, rooms=[r], extra=extra).start()
    alice.occupant_presence(r, "fisbot", since=mark, timeout=20)
    bot.wait_log(f"joined {r}")
    return bot


def ask_until_answered(client, to, body, pred, mtype="chat", tries=10):
    """Sends body until a reply matching pred comes (the bot may still be
    waiting for the room's subject); returns the reply. After a retry, a
    late answer to an earlier try is waited out, so that the next question
    does not take it for its own."""
    for n in range(tries):
        mark = client.mark()
        client.message(to, body, mtype)
        try:
            got = client.wait_message(pred, timeout=3, since=mark)
        except AssertionError:
            continue
        if n:
            time.sleep(3)
        return got
    raise AssertionError(f"no answer to {body!r}")


def test_help_in_room_answered_privately(alice, bots):
    r = room("dhelp")
    start_in_room(alice, bots, "dbot1", r)
    occupant = f"{r}/fisbot"
    msg = ask_until_answered(
        alice, r, "!help",
        lambda m: m.frm == occupant and m.body.startswith("commands"),
        mtype="groupchat")
    # A MUC private message, not a groupchat message.
    assert msg.type == "chat"
    assert msg.find(f"{{{NS_MUC_USER}}}x") is not None
    assert "help [COMMAND] — " in msg.body
    assert "ping [TEXT] — " in msg.body
    assert "rescan" not in msg.body  # admin commands: direct chats only
    # Nothing the bot said went to the room.
    alice.none(lambda m: m.frm == occupant and m.type == "groupchat",
               0.5)
    # Without the prefix, a room message is not a command.
    mark = alice.mark()
    alice.groupchat(r, "help")
    alice.none(from_jid(occupant), 1.5, since=mark)
    # Unknown commands are not answered in rooms.
    alice.groupchat(r, "!nosuchcommand")
    alice.none(from_jid(occupant), 1.5, since=mark)
    # A MUC private message needs no prefix, and is answered in place.
    mark = alice.mark()
    alice.private(r, "fisbot", "ping hi")
    msg = alice.wait_message(from_jid(occupant), since=mark)
    assert msg.type == "chat" and msg.body.startswith("pong hi")


def test_direct_chat_without_prefix(alice, bots):
    bot = bots("dbot2").start()
    bot.wait_log("connected")
    jid = "dbot2@localhost"
    msg = ask_until_answered(alice, jid, "help",
                             lambda m: m.frm.startswith(jid + "/"))
    assert msg.type == "chat"
    assert msg.body.startswith("commands (the ! in front is optional")
    assert "rescan — " in msg.body  # alice is an admin, in a direct chat
    mark = alice.mark()
    alice.message(jid, "!ping")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body \
        .startswith("pong")
    mark = alice.mark()
    alice.message(jid, "help ping")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body == \
        "usage: ping [TEXT]\nanswers pong (to check the bot is alive)"
    mark = alice.mark()
    alice.message(jid, "frobnicate now")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body == \
        "unknown command: frobnicate (say help)"
    mark = alice.mark()
    alice.message(jid, "roll 1d6 extra")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body == \
        "usage: roll [NdM]"


def test_admin_commands_from_admins_only(server, alice, mallory, bots):
    r = room("dadmin")
    target = room("djoined")
    start_in_room(alice, bots, "dbot3", r)
    jid = "dbot3@localhost"
    # mallory is not an admin.
    msg = ask_until_answered(mallory, jid, f"join {target}",
                             lambda m: m.frm.startswith(jid + "/"))
    assert msg.body == "not allowed: join is for admins, in a direct chat"
    # alice is, but not in a room.
    mark = alice.mark()
    alice.private(r, "fisbot", "rescan")
    assert alice.wait_message(from_jid(f"{r}/fisbot"), since=mark).body == \
        "not allowed: rescan is for admins, in a direct chat"
    # In a direct chat, alice's join works.
    alice.join(target, "alice")
    mark = alice.mark()
    msg = ask_until_answered(alice, jid, f"join {target}",
                             lambda m: m.frm.startswith(jid + "/"))
    assert msg.body == f"joined {target}"  # once the room let it in
    alice.occupant_presence(target, "fisbot", since=mark, timeout=20)
    mark = alice.mark()
    alice.message(jid, "join notaroom")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body == \
        "not a room JID: notaroom"
    mark = alice.mark()
    alice.message(jid, "rescan")
    assert alice.wait_message(from_jid(msg.frm), since=mark).body == \
        "rescan started"


def test_flood_is_throttled_while_others_are_served(alice, mallory, bots):
    extra = LOAD + """
    [limits]
    burst = 3
    rate = 1/m
    """
    bot = bots("dbot4", extra=extra).start()
    bot.wait_log("connected")
    jid = "dbot4@localhost"
    first = ask_until_answered(alice, jid, "ping",
                               lambda m: m.frm.startswith(jid + "/"))
    bot_jid = first.frm
    # mallory floods: the burst is served, then one "slow down".
    mark_m = mallory.mark()
    for i in range(40):
        mallory.message(jid, f"ping {i}")
    mallory.wait_message(lambda m: m.body.startswith("slow down: try "
                                                     "again in "),
                         since=mark_m, timeout=10)
    # mallory keeps flooding; alice asks in the middle of it.
    for i in range(100):
        mallory.message(jid, f"ping more {i}")
    t0 = time.monotonic()
    mark_a = alice.mark()
    alice.message(jid, "ping from alice")
    for i in range(100):
        mallory.message(jid, f"ping after {i}")
    got = alice.wait_message(from_jid(bot_jid), since=mark_a, timeout=10)
    elapsed = time.monotonic() - t0
    print(f"alice answered {elapsed:.2f}s into a 240-message flood")
    assert got.body.startswith("pong from alice")
    # mallory got the burst, one "slow down", then silence.
    time.sleep(1.5)
    replies = [s.body for s in mallory.received[mark_m:]
               if s.kind == "message" and s.frm == bot_jid]
    assert len(replies) == 4, replies
    assert all(b.startswith("pong ") for b in replies[:3]), replies
    assert replies[3].startswith("slow down: try again in ")
    bot.wait_log("rate limit: mallory@localhost slowed down")


def test_broken_plugins_refused_at_start(server, bots, tmp_path):
    build = os.environ.get("FISBOT_BUILD_DIR")
    if not build:
        pytest.skip("FISBOT_BUILD_DIR is not set (run through CTest)")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "help.so").symlink_to(Path(BUILD_PLUGINS) / "help.so")
    for name in ("badversion", "failinit"):
        (plugins / f"{name}.so").symlink_to(
            Path(build) / "tests" / "plugins" / f"{name}.so")
    cases = {
        "badversion": "fisbot: plugin badversion: built for plugin API "
                      "version",
        "failinit": "fisbot: plugin failinit: init failed: the "
                    "frobnicator is missing",
        "nosuch": "fisbot: plugin nosuch: ",
    }
    for name, message in cases.items():
        bot = bots("dbot5", extra=f"""
            [plugins]
            path = {plugins}
            load = help, {name}
            """).start()
        assert bot.wait_exit() == 2
        assert message in bot.log(), bot.log()
        assert "connected" not in bot.log()
