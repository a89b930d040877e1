"""The real nginx, as this test's own process, running the example site
examples/nginx/fisbot.conf with its placeholders replaced (the listen
port, the bot's address, the share), so that the example itself is what
the tests run."""
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nginx" / \
    "fisbot.conf"
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or \
    "/usr/sbin/nginx"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def site(bot_port: int, share: Path, listen: str) -> str:
    """The example site with the test's values: each placeholder must be
    found, so that a change to the example is noticed here."""
    text = EXAMPLE.read_text()
    subs = [(r"^(\s*)listen 80;", rf"\1listen {listen};"),
            (r"server 127\.0\.0\.1:8080;", f"server 127.0.0.1:{bot_port};"),
            (r"alias /srv/fisbot/share/;", f"alias {share}/;")]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n == 1, pattern
    return text


class Nginx:
    """nginx on a free loopback port in front of a bot listening on
    bot_port and serving share; with tls (certificate, key), nginx
    serves HTTPS."""

    def __init__(self, root: Path, bot_port: int, share: Path,
                 tls: tuple = None):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        listen = f"127.0.0.1:{self.port}"
        if tls:  # (certificate, key): the example's HTTPS lines
            listen += (f" ssl; ssl_certificate {tls[0]}; "
                       f"ssl_certificate_key {tls[1]}")
        (root / "fisbot-site.conf").write_text(site(bot_port, share, listen))
        user = ""
        if os.geteuid() == 0:
            # As root, workers would switch to nobody, who cannot read
            # the temporary share.
            import grp
            import pwd
            user = (f"user {pwd.getpwuid(os.getuid()).pw_name} "
                    f"{grp.getgrgid(os.getgid()).gr_name};")
        (root / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/fisbot-site.conf;
}}
""")
        self.proc = subprocess.Popen(
            [NGINX, "-e", str(root / "error.log"), "-p", str(root),
             "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            assert self.proc.poll() is None, self.error_log()
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start: " + self.error_log())

    def error_log(self) -> str:
        p = self.root / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
