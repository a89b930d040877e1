"""The fisbot daemon as a child process of a test, logged in to a test
Prosody (prosody.py): writes its configuration and share, starts it, reads
its log, stops it with a signal and reports the exit code."""
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

FISBOT_BIN = os.environ.get("FISBOT_BIN", "fisbot")
PLUGIN_DIR = os.environ.get("FISBOT_PLUGIN_DIR", "")


class FisbotProc:
    """One fisbot under folder, configured for server."""

    def __init__(self, server, folder, rooms=(), extra="", user="bot",
                 password="secret", xmpp_extra=""):
        self.server = server
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.share = self.dir / "share"
        self.share.mkdir(exist_ok=True)
        (self.share / "hello.txt").write_text("hello\n")
        self.logfile = self.dir / "fisbot.log"
        self.proc = None
        self.config = self.dir / "fisbot.conf"
        xmpp = server.fisbot_xmpp_config(user, password, xmpp_extra)
        if rooms:
            xmpp += "rooms = " + ", ".join(rooms) + "\n"
        plugins = ""
        if PLUGIN_DIR:
            plugins = (f"\n[plugins]\npath = {PLUGIN_DIR}\n"
                       "load = help, admin\n")
        self.config.write_text(xmpp + textwrap.dedent("""
            [share]
            path = share
            database = fisbot.db
            settle = 100ms

            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080
            """) + plugins + textwrap.dedent(extra))

    def start(self):
        """Starts fisbot -v (its log goes to fisbot.log)."""
        self.log_offset = self.logfile.stat().st_size \
            if self.logfile.exists() else 0
        self.proc = subprocess.Popen(
            [FISBOT_BIN, "-v", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.logfile, "ab"), cwd=self.dir)
        return self

    def log(self) -> str:
        """What fisbot logged since the last start."""
        with open(self.logfile, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text: str, timeout: float = 15) -> str:
        """Waits until the log (since the last start) contains text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"fisbot never logged {text!r}; log:\n"
                             + self.log()[-4000:])

    def wait_exit(self, timeout: float = 30) -> int:
        """Waits for fisbot to exit by itself; returns its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("fisbot did not exit; log:\n"
                                 + self.log()[-4000:])

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> int:
        """Sends sig and returns the exit code (kills after timeout)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc = None
        return rc

    def reload(self):
        """SIGHUP: re-read the configuration."""
        self.proc.send_signal(signal.SIGHUP)
