"""fisbot -n: the configuration check from the command line,
and scripts/check-configs over the shipped configurations."""
import subprocess
from pathlib import Path

from conftest_shared import FISBOT_BIN, run_fisbot, write_config

TOP = Path(__file__).resolve().parents[2]


def test_check_ok(bot):
    r = bot.run("-n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"configuration OK\n"
    assert r.stderr == b""


def test_check_reports_every_problem(tmp_path):
    write_config(tmp_path, """
        [xmpp]
        jid = bot@localhost/phone
        password = secret

        [share]
        path = share
        exclude = a/b

        [http]
        listn = 127.0.0.1:8080
        listen = foo
        [htp]
        """)
    r = run_fisbot("-n", "-c", "fisbot.conf", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == b""
    assert r.stderr.decode().splitlines() == [
        'fisbot: fisbot.conf:2: [xmpp] jid: "bot@localhost/phone" has a '
        'resource (a bare JID is needed here)',
        "fisbot: fisbot.conf:7: [share] exclude: \"a/b\" contains '/' "
        "(each glob matches one path component)",
        'fisbot: fisbot.conf:10: [http] listn: unknown key (did you mean '
        '"listen"?)',
        'fisbot: fisbot.conf:11: [http] listen: "foo" is not HOST:PORT',
        'fisbot: fisbot.conf:12: [htp]: unknown section (did you mean '
        '"http"?)',
    ]


def test_file_named_as_given(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    write_config(sub, "[xmpp]\njid = bot@localhost\n", name="my.conf")
    r = run_fisbot("-n", "-c", "etc/my.conf", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines() == [
        "fisbot: etc/my.conf:1: [xmpp] password: required (or "
        "password_file), not given",
        "fisbot: etc/my.conf: [share] path: required, not given",
    ]


def test_missing_file(tmp_path):
    r = run_fisbot("-n", "-c", "fisbot.conf", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == (b"fisbot: fisbot.conf: cannot open: "
                        b"No such file or directory\n")
    # The default file is ./fisbot.conf.
    r = run_fisbot("-n", cwd=tmp_path)
    assert r.returncode == 2
    assert b"fisbot.conf: cannot open" in r.stderr


def test_password_file_relative_to_config(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "pw").write_text("secret\n")
    write_config(conf, """
        [xmpp]
        jid = bot@localhost
        password_file = pw
        [share]
        path = ../share
        """)
    # Run from elsewhere: the path is relative to the file, not the cwd.
    r = run_fisbot("-n", "-c", str(conf / "fisbot.conf"), cwd="/")
    assert r.returncode == 0, r.stderr
    (conf / "pw").unlink()
    r = run_fisbot("-n", "-c", str(conf / "fisbot.conf"), cwd="/")
    assert r.returncode == 2
    assert b"[xmpp] password_file: cannot read" in r.stderr
    assert b"No such file or directory" in r.stderr


def test_check_configs_script():
    r = subprocess.run([str(TOP / "scripts" / "check-configs"), FISBOT_BIN],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = r.stdout.decode()
    assert "ok: config/fisbot.conf" in out
    assert "ok: examples/minimal.conf" in out
    assert "ok: examples/demo/fisbot.conf" in out


def test_check_configs_script_fails_on_a_bad_config(tmp_path):
    # A copy of the script in a tree with one bad configuration.
    (tmp_path / "scripts").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "examples").mkdir()
    script = tmp_path / "scripts" / "check-configs"
    script.write_bytes((TOP / "scripts" / "check-configs").read_bytes())
    script.chmod(0o755)
    write_config(tmp_path / "config", """
        [xmpp]
        jid = bot@localhost
        password = x
        [share]
        path = share
        """)
    write_config(tmp_path / "examples", "[xmpp]\njid = nope\n",
                 name="bad.conf")
    r = subprocess.run([str(script), FISBOT_BIN], capture_output=True,
                       timeout=120)
    assert r.returncode == 1
    assert b"ok: config/fisbot.conf" in r.stdout
    assert b"FAILED: examples/bad.conf" in r.stderr
    assert b'[xmpp] jid: "nope" is not a bare JID' in r.stderr
