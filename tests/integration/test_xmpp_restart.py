"""fisbot survives a restart of its XMPP server: it reconnects with backoff,
is back in its rooms (configured and invited) and answers commands."""
import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody
from xmpp_client import Client

ROOM = "lobby@conference.localhost"
INVITED = "side@conference.localhost"


@pytest.fixture
def server(tmp_path):
    p = Prosody(tmp_path / "prosody")
    p.register("bot", "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


def test_server_restart(server, tmp_path):
    alice = Client(server, "alice", "pw")
    try:
        alice.join(ROOM, "alice")
        alice.join(INVITED, "alice")
        mark = alice.mark()
        bot = FisbotProc(server, tmp_path / "bot", rooms=[ROOM], extra="""
            [invites]
            accept = allowlist
            allow = localhost
            """).start()
        alice.occupant_presence(ROOM, "fisbot", since=mark, timeout=15)
        alice.invite_direct(INVITED, "bot@localhost")
        alice.occupant_presence(INVITED, "fisbot", since=mark, timeout=15)
    finally:
        alice.close()

    server.restart()
    bot.wait_log("XMPP connection lost")

    alice = Client(server, "alice", "pw")
    try:
        mark = alice.mark()
        alice.join(ROOM, "alice")
        alice.join(INVITED, "alice")
        for r in (ROOM, INVITED):
            alice.occupant_presence(r, "fisbot", since=mark, timeout=40)
        bot.wait_log(f"{ROOM} is ready")
        mark = alice.mark()
        alice.groupchat(ROOM, "!help")
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark)
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()
