"""The HTTP server as a process, for the tests of the HTTP layer.

Server runs tests/integration/http_server_main.c (the same http_start the
bot uses, wired to the real indexer, which catalogues and hashes a
temporary share first) on a loopback port; links come from `fisbot url`.
The make_server fixture starts servers and stops them (checking that they
exit cleanly) at the end of a test.
"""
import http.client
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest_shared import FISBOT_BIN, write_config

SERVER_BIN = os.environ.get("FISBOT_HTTP_SERVER", "http_server")
BASE = "http://127.0.0.1:8080"


class Server:
    """A share, a catalogue and a running HTTP server."""

    def __init__(self, root: Path, files: dict, http_extra: str = "",
                 settle: str = "0", backdate: bool = False):
        """Writes files (name: bytes) into a new share under root and
        starts a server on it; http_extra goes into [http]. With backdate,
        the files are dated an hour back, so that they are settled at once
        whatever settle is."""
        self.root = root
        self.share = root / "share"
        self.share.mkdir()
        for name, data in files.items():
            p = self.share / os.fsdecode(name) if isinstance(name, bytes) \
                else self.share / name
            if isinstance(name, bytes):
                p = Path(os.fsdecode(os.path.join(os.fsencode(self.share),
                                                  name)))
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            if backdate:
                then = time.time() - 3600
                os.utime(p, (then, then))
        self.config = write_config(root, f"""
            [xmpp]
            jid = bot@localhost
            password = secret

            [share]
            path = share
            database = fisbot.db
            settle = {settle}

            [http]
            listen = 127.0.0.1:0
            base_url = {BASE}
            """ + http_extra + """
            [log]
            level = info
            """)
        self.log = root / "server.log"
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "-c", str(self.config)],
            stdout=subprocess.PIPE, stderr=self.logf)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("port "), (line, self.log.read_text())
        self.port = int(line.split()[1])

    def stop(self):
        """Stops the server; it must exit cleanly (0: no leak found by the
        sanitizers, no crash)."""
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.logf.close()
        assert rc == 0, (rc, self.log.read_text(errors="replace")[-3000:])

    def url(self, id_or_path) -> str:
        """Returns the path part of a link from `fisbot url`."""
        r = subprocess.run([FISBOT_BIN, "url", "-c", str(self.config),
                            id_or_path], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        url = r.stdout.decode().strip()
        assert url.startswith(BASE + "/f/"), url
        return url[len(BASE):]

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def request(self, method, path, headers=None):
        """One request on a fresh connection: (response, body)."""
        c = self.conn()
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def rss_kib(self, field="VmRSS") -> int:
        """The server's resident memory (KiB) now, or its high-water mark
        with field="VmHWM"."""
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError("no " + field)

    def log_text(self) -> str:
        self.logf.flush()
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str) -> str:
        """Waits (up to 20 s) for text in the log, written once a response
        has gone out; returns the log."""
        deadline = time.time() + 20
        while text not in self.log_text() and time.time() < deadline:
            time.sleep(0.05)
        return self.log_text()


@pytest.fixture
def make_server(tmp_path):
    """make(files, http_extra="", **kw) starts a Server (kw: settle,
    backdate); all are stopped at the end of the test."""
    servers = []

    def make(files, http_extra="", **kw):
        root = tmp_path / f"s{len(servers)}"
        root.mkdir()
        s = Server(root, files, http_extra, **kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


