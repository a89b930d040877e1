"""Shared fixtures for fisbot's integration tests.

The tests drive the real fisbot binary (FISBOT_BIN, set by CTest) on
temporary trees. Helpers for a running XMPP server live in prosody.py.
"""
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

FISBOT_BIN = os.environ.get("FISBOT_BIN", "fisbot")
PLUGIN_DIR = os.environ.get("FISBOT_PLUGIN_DIR", "")


def sanitized(binary: str) -> bool:
    """Returns true if binary was built with AddressSanitizer (whose
    quarantine keeps freed memory: RSS says nothing there)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def write_config(folder: Path, body: str, name: str = "fisbot.conf") -> Path:
    """Writes a configuration file into folder and returns its path."""
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def run_fisbot(*args, config=None, timeout=120, check=False, **kw):
    """Runs fisbot with args; returns the CompletedProcess (text mode)."""
    cmd = [FISBOT_BIN]
    if args and args[0] in ("scan", "search", "ls", "info", "url"):
        cmd.append(args[0])
        args = args[1:]
    if config is not None:
        cmd += ["-c", str(config)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, timeout=timeout,
                          check=check, **kw)


class Bot:
    """A temporary share, database and configuration for one test."""

    def __init__(self, root: Path, extra: str = ""):
        self.root = root
        self.share = root / "share"
        self.share.mkdir()
        self.config = write_config(root, f"""
            [xmpp]
            jid = bot@localhost
            password = secret

            [share]
            path = share
            database = fisbot.db
            settle = 200ms

            [http]
            listen = 127.0.0.1:0
            base_url = http://127.0.0.1:8080
            """ + textwrap.dedent(extra))

    def run(self, *args, **kw):
        """Runs fisbot with this bot's configuration."""
        return run_fisbot(*args, config=self.config, **kw)

    def out(self, *args, **kw):
        """Runs fisbot, asserts it succeeded, returns stdout as str."""
        r = self.run(*args, **kw)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        return r.stdout.decode("utf-8")


@pytest.fixture
def bot(tmp_path):
    """A fresh Bot in a temporary folder."""
    return Bot(tmp_path)
