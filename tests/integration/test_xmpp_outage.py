"""A long outage (slow: about 100 s; CTest label "slow"): the XMPP server
stopped for 75 s, fisbot retries with its backoff (capped at 10 s for the
first ten minutes of an outage) and is back in its rooms within about 10 s
of the server's return: the time is printed, and bounded generously here
(a loaded machine) since the backoff's own bound is unit-tested
(tests/xmpp/test_resume.c)."""
import time

import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody
from xmpp_client import Client

ROOM = "lobby@conference.localhost"
DOWN_S = 75


@pytest.fixture
def server(tmp_path):
    p = Prosody(tmp_path / "prosody", smacks_hibernation=120)
    p.register("bot", "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


def test_back_within_seconds_of_the_return(server, tmp_path):
    alice = Client(server, "alice", "pw")
    alice.join(ROOM, "alice")
    mark = alice.mark()
    bot = FisbotProc(server, tmp_path / "bot", rooms=[ROOM]).start()
    try:
        alice.occupant_presence(ROOM, "fisbot", since=mark, timeout=20)
        bot.wait_log(f"{ROOM} is ready", timeout=20)
        alice.close()
        offset = len(bot.log())
        server.stop()
        time.sleep(DOWN_S)
        server.start()
        back = time.monotonic()
        while f"joined {ROOM} as fisbot" not in bot.log()[offset:]:
            assert time.monotonic() - back < 60, bot.log()[offset:][-3000:]
            time.sleep(0.05)
        took = time.monotonic() - back
        print(f"back in {ROOM} {took:.2f}s after the server's return "
              f"(down {DOWN_S}s)")
        log = bot.log()[offset:]
        delays = [float(x.split("retrying in ")[1].split("s")[0])
                  for x in log.splitlines() if "retrying in " in x]
        print("delays between attempts:", delays)
        assert delays and max(delays) <= 10.0
        assert took < 20
        alice = Client(server, "alice", "pw")
        mark = alice.mark()
        alice.join(ROOM, "alice")
        alice.groupchat(ROOM, "!help")
        alice.wait_message(lambda m: m.frm == f"{ROOM}/fisbot", since=mark,
                           timeout=20)
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()
