"""fisbot under systemd's Type=notify: with NOTIFY_SOCKET set, the real bot
sends READY=1 once its HTTP server listens, RELOADING=1 then READY=1
around a SIGHUP reload, and STOPPING=1 on SIGTERM. The test plays
systemd's part: a unix datagram socket whose path is NOTIFY_SOCKET."""
import re
import signal
import socket

import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody


@pytest.fixture
def server(tmp_path):
    p = Prosody(tmp_path / "prosody")
    p.register("bot", "secret")
    p.start()
    yield p
    p.stop()


@pytest.fixture
def notify(tmp_path, monkeypatch):
    """The notification socket, set as NOTIFY_SOCKET for children."""
    path = tmp_path / "notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield s
    s.close()


def receive(sock, timeout=30) -> dict:
    """One notification, as a dict of its KEY=VALUE lines."""
    sock.settimeout(timeout)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines() if line)


def listens(port) -> bool:
    """True if 127.0.0.1:port accepts a connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except OSError:
        return False


def test_ready_reloading_stopping(server, notify, tmp_path):
    bot = FisbotProc(server, tmp_path / "bot").start()
    try:
        msg = receive(notify)
        # The first notification is READY, and the server already answers.
        assert msg.get("READY") == "1", msg
        port = int(re.search(r"HTTP port (\d+)", msg["STATUS"]).group(1))
        assert port > 0 and listens(port)
        log = bot.log()
        assert "fisbot running" in log, log

        bot.reload()
        msg = receive(notify)
        assert msg.get("RELOADING") == "1", msg
        assert int(msg["MONOTONIC_USEC"]) > 0
        msg = receive(notify)
        assert msg.get("READY") == "1", msg
        bot.wait_log("reloading")

        bot.proc.send_signal(signal.SIGTERM)
        msg = receive(notify)
        assert msg.get("STOPPING") == "1", msg
        assert bot.wait_exit() == 0
    finally:
        bot.stop()


def test_no_socket_no_notification(server, tmp_path, monkeypatch):
    """Without NOTIFY_SOCKET the bot runs as before (nothing to report
    to, nothing fails)."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    bot = FisbotProc(server, tmp_path / "bot").start()
    try:
        bot.wait_log("fisbot running")
        assert bot.stop() == 0
    finally:
        bot.stop()
