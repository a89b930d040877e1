"""The fisbot daemon without an XMPP server: its [xmpp] server is a closed
loopback port, so it keeps retrying the connection (with backoff) while it
indexes its share. For the tests of the indexer's behaviour under faults
(a full disk, permissions, changes behind its back): the catalogue is read
directly, read-only, with Python's sqlite3.

It can run as the unprivileged user nobody (root ignores permission bits,
so tests of unreadable files need another user): its folder is then made
under /tmp, owned by nobody, and the process is started through setpriv.
"""
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from conftest_shared import FISBOT_BIN


def closed_port() -> int:
    """A loopback TCP port with nothing listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nobody_prefix():
    """The command prefix that runs a program as nobody, [] if we are not
    root (permission bits already apply), or None if it is impossible."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return None
    return ["setpriv", "--reuid=nobody", "--regid=nogroup",
            "--clear-groups"]


def wait_for(pred, timeout: float, what: str):
    """Polls pred every 0.1 s until it is true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for "
                         f"{what}")


class BareDaemon:
    """One fisbot daemon, its share, catalogue and log under root."""

    def __init__(self, root=None, as_nobody=False, database=None,
                 share_extra="", env=None):
        self.prefix = []
        self.owned_tmp = None
        if as_nobody:
            self.prefix = nobody_prefix()
            if self.prefix is None:
                import pytest
                pytest.skip("cannot run fisbot as an unprivileged user")
            if os.geteuid() == 0:
                # pytest's own folders are private to root.
                self.owned_tmp = tempfile.mkdtemp(prefix="fisbot-nobody-")
                root = Path(self.owned_tmp)
                os.chmod(root, 0o755)
        self.root = Path(root)
        self.share = self.root / "share"
        self.share.mkdir(exist_ok=True)
        self.db = Path(database) if database else self.root / "fisbot.db"
        self.logfile = self.root / "fisbot.log"
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.config = self.root / "fisbot.conf"
        self.config.write_text(textwrap.dedent(f"""\
            [xmpp]
            jid = bot@localhost
            password = secret
            server = 127.0.0.1:{closed_port()}

            [share]
            path = share
            database = {self.db}
            settle = 200ms
            """) + textwrap.dedent(share_extra) + textwrap.dedent("""
            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080
            """))

    def chown(self):
        """Gives the folder to nobody (when running as nobody from root),
        leaving alone what is nobody's already (a chown moves the ctime)."""
        if self.prefix:
            pw = pwd.getpwnam("nobody")
            for dirpath, dirnames, filenames in os.walk(self.root):
                for name in [dirpath] + [os.path.join(dirpath, n)
                                         for n in dirnames + filenames]:
                    st = os.lstat(name)
                    if (st.st_uid, st.st_gid) != (pw.pw_uid, pw.pw_gid):
                        os.lchown(name, pw.pw_uid, pw.pw_gid)

    def run(self, *args, timeout=120):
        """Runs `fisbot SUBCOMMAND -c CONFIG ARGS` as the daemon's user."""
        self.chown()
        cmd = self.prefix + [FISBOT_BIN, args[0], "-c", str(self.config),
                             *args[1:]]
        return subprocess.run(cmd, capture_output=True, timeout=timeout,
                              env=self.env, cwd=self.root)

    def start(self):
        """Starts `fisbot -v`, its log appended to fisbot.log."""
        self.chown()
        self.log_offset = self.logfile.stat().st_size \
            if self.logfile.exists() else 0
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                self.prefix + [FISBOT_BIN, "-v", "-c", str(self.config)],
                stdout=subprocess.DEVNULL, stderr=log, cwd=self.root,
                env=self.env)
        return self

    def log(self, since_start=True) -> str:
        with open(self.logfile, "rb") as f:
            if since_start:
                f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc = None
        return rc

    def rows(self):
        """{path: (id, sha256 hex or None)} of the catalogue's files, or
        None if it cannot be read yet."""
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                  timeout=10)
        except sqlite3.OperationalError:
            return None
        try:
            return {os.fsdecode(bytes(p)): (i, s.hex() if s else None)
                    for i, p, s in con.execute(
                        "SELECT id, path, sha256 FROM files")}
        except sqlite3.OperationalError:
            return None
        finally:
            con.close()

    def hashed(self):
        """The set of hashed paths in the catalogue (empty if none)."""
        rows = self.rows() or {}
        return {p for p, (_, s) in rows.items() if s is not None}

    def cleanup(self):
        self.stop()
        if self.owned_tmp is not None:
            shutil.rmtree(self.owned_tmp, ignore_errors=True)
