"""A real Prosody for fisbot's integration tests (and scripts/demo).

Prosody runs as a child process of the test on free loopback ports, in a
temporary folder that holds its configuration, data, log and a self-signed
certificate for "localhost" (made with the openssl command). fisbot trusts
that certificate through [xmpp] ca_file, so TLS is verified for real.

    with Prosody(tmpdir) as server:
        server.register("bot", "secret")
        ... server.port, server.ca_file, server.muc ...

Prosody(tmpdir, tls=False) offers no TLS at all (for the test that fisbot
refuses such a server). Stream management (XEP-0198, mod_smacks) is on;
a stream whose connection drops can be resumed for smacks_hibernation
seconds (5 by default; the resumption tests want longer). The server can be stopped and started again with
the same data (stop(), start()), to test that fisbot comes back.
"""
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

DOMAIN = "localhost"
MUC = "conference.localhost"


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(folder: Path) -> tuple:
    """Makes a self-signed certificate for localhost; returns (crt, key)."""
    crt, key = folder / "localhost.crt", folder / "localhost.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3",
         "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,DNS:conference.localhost",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True)
    return crt, key


class Prosody:
    """One Prosody server under folder (created if missing)."""

    def __init__(self, folder, tls=True, direct_tls=False,
                 smacks_hibernation=5):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.smacks_hibernation = smacks_hibernation
        self.port = free_port()
        self.direct_port = free_port() if direct_tls else None
        self.config = self.dir / "prosody.cfg.lua"
        self.log = self.dir / "prosody.log"
        self.proc = None
        self.ca_file = None
        self.domain = DOMAIN
        self.muc = MUC
        if tls:
            self.ca_file, self.key_file = make_cert(self.dir)
        (self.dir / "data").mkdir(exist_ok=True)
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        d = self.dir
        if self.tls:
            ssl = textwrap.dedent(f"""
                ssl = {{ certificate = "{self.ca_file}"; key = "{self.key_file}" }}
                c2s_require_encryption = true
                """)
            tls_module = '"tls";'
        else:
            ssl = "c2s_require_encryption = false\n"
            tls_module = ""
        direct = ""
        if self.direct_port:
            direct = (f"c2s_direct_tls_ports = {{ {self.direct_port} }}\n"
                      'c2s_direct_tls_interfaces = { "127.0.0.1" }\n')
        return textwrap.dedent(f"""
            -- written by tests/integration/prosody.py
            run_as_root = true
            daemonize = false
            pidfile = "{d}/prosody.pid"
            data_path = "{d}/data"
            plugin_paths = {{}}
            log = {{ debug = "{self.log}" }}
            modules_enabled = {{
                "roster"; "saslauth"; {tls_module} "disco"; "ping";
                "version"; "smacks"; "posix";
            }}
            modules_disabled = {{ "s2s"; "admin_socket"; "http";
                                  "offline"; "c2s_limits" }}
            c2s_ports = {{ {self.port} }}
            c2s_interfaces = {{ "127.0.0.1" }}
            s2s_ports = {{}}
            http_ports = {{}}
            https_ports = {{}}
            allow_registration = false
            authentication = "internal_hashed"
            storage = "internal"
            smacks_hibernation_time = {self.smacks_hibernation}
            """) + ssl + direct + textwrap.dedent(f"""
            VirtualHost "{DOMAIN}"
            Component "{MUC}" "muc"
                restrict_room_creation = false
                muc_room_locking = false
                muc_tombstones = false
                max_history_messages = 20
            """)

    def register(self, user: str, password: str):
        """Creates the account user@localhost (works while stopped too)."""
        r = subprocess.run(
            ["prosodyctl", "--config", str(self.config), "register", user,
             DOMAIN, password], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"prosodyctl register {user}: "
                               f"{r.stdout}{r.stderr}")

    def start(self, timeout=20):
        """Starts Prosody and waits until its c2s port accepts."""
        self.proc = subprocess.Popen(
            ["prosody", "--config", str(self.config), "-F"],
            stdout=open(self.dir / "prosody.stdout", "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prosody exited:\n" + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("prosody did not start:\n" + self.log_tail())

    def stop(self):
        """Stops Prosody (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        """Stops and starts Prosody on the same ports and data."""
        self.stop()
        self.start()

    def log_tail(self, lines=40) -> str:
        """The end of Prosody's log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def fisbot_xmpp_config(self, user="bot", password="secret",
                           extra="") -> str:
        """The [xmpp] section for a fisbot that logs in as user here."""
        lines = [
            "[xmpp]",
            f"jid = {user}@{DOMAIN}",
            f"password = {password}",
            f"server = 127.0.0.1:{self.port}",
        ]
        if self.ca_file:
            lines.append(f"ca_file = {self.ca_file}")
        return "\n".join(lines) + "\n" + textwrap.dedent(extra)

    def cleanup(self):
        """Stops the server and removes its folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
