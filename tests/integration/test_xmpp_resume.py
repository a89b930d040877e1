"""fisbot's connection resilience against a real Prosody with stream
management (XEP-0198, mod_smacks):

- its TCP connection cut (ss -K on its socket, or a relay between it and
  the server closing both sides) while a user sends a command in a room:
  the stream is resumed, the bot never leaves the room (the others see no
  presence of it at all: no leave, no rejoin) and the command is answered;
- a black hole (the relay stops forwarding, nothing is closed): its pings
  to the server go unanswered, it drops the connection within two ping
  intervals, reconnects and resumes;
- the server restarted (resumption refused): a clean rejoin, once per
  room.

FISBOT_TEST_PING_MS (read by the session, for tests only) sets the
interval of the bot's pings to its server (60 s otherwise) to a few
seconds, so that a black hole is found quickly.
"""
import re
import subprocess
import time

import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody
from tcp_relay import Relay
from xmpp_client import Client

ROOM = "lobby@conference.localhost"
OTHER = "side@conference.localhost"
PING_MS = 2000


class Via:
    """server, as fisbot reaches it: through port (a relay)."""

    def __init__(self, server, port):
        self.server, self.port = server, port

    def fisbot_xmpp_config(self, *args):
        return self.server.fisbot_xmpp_config(*args).replace(
            f"127.0.0.1:{self.server.port}\n", f"127.0.0.1:{self.port}\n")


@pytest.fixture
def server(tmp_path):
    p = Prosody(tmp_path / "prosody", smacks_hibernation=120)
    p.register("bot", "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture
def relay(server):
    r = Relay(server.port)
    yield r
    r.close()


def wait_log_after(bot, offset, text, timeout=30.0):
    """Waits until the bot's log after offset holds text; returns the
    seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if text in bot.log()[offset:]:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"fisbot never logged {text!r}; log:\n"
                         + bot.log()[offset:][-4000:])


def start_bot(monkeypatch, server, relay, tmp_path, rooms=(ROOM,)):
    """Starts fisbot through relay (if any), pinging every PING_MS, and
    waits until alice sees it in its rooms; returns (bot, alice)."""
    monkeypatch.setenv("FISBOT_TEST_PING_MS", str(PING_MS))
    alice = Client(server, "alice", "pw")
    for r in rooms:
        alice.join(r, "alice")
    mark = alice.mark()
    via = Via(server, relay.port) if relay is not None else server
    bot = FisbotProc(via, tmp_path / "bot", rooms=list(rooms)).start()
    for r in rooms:
        alice.occupant_presence(r, "fisbot", since=mark, timeout=20)
        bot.wait_log(f"{r} is ready", timeout=20)
    return bot, alice


def bot_presences(alice, since, room=ROOM):
    """The presences of the bot's occupant(s) in room seen since."""
    with alice.cond:
        return [s for s in alice.received[since:]
                if s.kind == "presence" and s.frm.startswith(room + "/fisbot")]


def kill_socket(server, pid):
    """Destroys fisbot's TCP connection to server with ss -K (SOCK_DESTROY,
    as root); returns False if that cannot be done here."""
    try:
        r = subprocess.run(["ss", "-tnpH", "state", "established", "dst",
                            f"127.0.0.1:{server.port}"],
                           capture_output=True, text=True)
    except FileNotFoundError:  # no iproute2
        return False
    ports = [m.group(1) for line in r.stdout.splitlines()
             if f"pid={pid}," in line
             for m in [re.search(r"127\.0\.0\.1:(\d+)\s", line)] if m]
    if len(ports) != 1:
        return False
    r = subprocess.run(["ss", "-K", "src", f"127.0.0.1:{ports[0]}", "dst",
                        f"127.0.0.1:{server.port}"],
                       capture_output=True, text=True)
    return f":{ports[0]}" in r.stdout


@pytest.mark.parametrize("how", ["ss", "relay"])
def test_cut_while_a_command_is_sent(server, relay, tmp_path, monkeypatch,
                                     how):
    bot, alice = start_bot(monkeypatch, server,
                           relay if how == "relay" else None, tmp_path)
    try:
        offset = len(bot.log())
        mark = alice.mark()
        if how == "ss":
            if not kill_socket(server, bot.proc.pid):
                pytest.skip("ss -K (SOCK_DESTROY) does not work here")
        else:
            assert relay.cut() == 1
        alice.groupchat(ROOM, "!help")
        start = time.monotonic()
        answer = alice.wait_message(
            lambda m: m.frm == f"{ROOM}/fisbot", since=mark, timeout=30)
        print(f"answered {time.monotonic() - start:.2f}s after the cut")
        assert "help" in answer.body
        log = bot.log()[offset:]
        assert "XMPP connection lost" in log, log
        assert "stream resumed" in log, log
        assert "could not be resumed" not in log, log
        # Still in the room all along: no leave, no rejoin, no presence.
        alice.none(lambda s: s.kind == "presence" and
                   s.frm.startswith(ROOM + "/fisbot"), 2, since=mark)
        # One answer: nothing resent twice.
        with alice.cond:
            answers = [s for s in alice.received[mark:]
                       if s.kind == "message" and s.body is not None and
                       s.frm == f"{ROOM}/fisbot"]
        assert len(answers) == 1, answers
        # And it goes on answering.
        mark = alice.mark()
        alice.groupchat(ROOM, "!help")
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark)
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()


def test_black_hole(server, relay, tmp_path, monkeypatch):
    bot, alice = start_bot(monkeypatch, server, relay, tmp_path)
    try:
        offset = len(bot.log())
        mark = alice.mark()
        assert relay.black_hole() == 1
        took = wait_log_after(bot, offset, "XMPP connection dead",
                              timeout=10 * PING_MS / 1000)
        print(f"black hole found after {took:.2f}s (pings every "
              f"{PING_MS / 1000:.0f}s)")
        # Two intervals, and the loaded machine's slack.
        assert took < 2 * PING_MS / 1000 + 3
        wait_log_after(bot, offset, "stream resumed", timeout=30)
        alice.groupchat(ROOM, "!help")
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark,
                           timeout=20)
        assert bot_presences(alice, mark) == []
        assert "could not be resumed" not in bot.log()[offset:]
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()


def test_resumption_refused_rejoins(server, tmp_path, monkeypatch):
    bot, alice = start_bot(monkeypatch, server, None, tmp_path,
                           rooms=(ROOM, OTHER))
    alice.close()
    offset = len(bot.log())
    server.restart()
    took = wait_log_after(bot, offset, f"joined {ROOM} as fisbot\n",
                          timeout=40)
    print(f"back in the room {took:.2f}s after the restart")
    alice = Client(server, "alice", "pw")
    try:
        mark = alice.mark()
        alice.join(ROOM, "alice")
        alice.join(OTHER, "alice")
        for r in (ROOM, OTHER):
            alice.occupant_presence(r, "fisbot", since=mark, timeout=40)
            wait_log_after(bot, offset, f"joined {r} as fisbot\n",
                           timeout=40)
        log = bot.log()[offset:]
        assert "stream resumed" not in log, log
        # A clean rejoin: one join per room, under its own nick.
        for r in (ROOM, OTHER):
            assert log.count(f"joined {r} as") == 1, log
            assert not [p for p in bot_presences(alice, mark, r)
                        if p.frm != f"{r}/fisbot"]
        wait_log_after(bot, offset, f"{ROOM} is ready", timeout=20)
        mark = alice.mark()
        alice.groupchat(ROOM, "!help")
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark)
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()


def test_path_down_for_a_while(server, relay, tmp_path, monkeypatch):
    """The connection cut and the path down a few seconds: the attempts
    that cannot reach the server do not spend the stream, which is
    resumed once the path is back."""
    bot, alice = start_bot(monkeypatch, server, relay, tmp_path)
    try:
        offset = len(bot.log())
        mark = alice.mark()
        relay.refuse()
        assert relay.cut() == 1
        alice.groupchat(ROOM, "!help")
        wait_log_after(bot, offset, "XMPP connection failed", timeout=15)
        wait_log_after(bot, len(bot.log()), "XMPP connection failed",
                       timeout=15)
        relay.listen()
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark,
                           timeout=30)
        log = bot.log()[offset:]
        assert "stream resumed" in log, log
        assert "could not be resumed" not in log, log
        assert bot_presences(alice, mark) == []
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()
