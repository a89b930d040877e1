"""The adversarial layer's harness works: the shared fixtures import and
the real binary answers -n."""
from conftest_shared import run_fisbot


def test_binary_checks_config(bot):
    r = bot.run("-n")
    assert r.returncode == 0, r.stderr
    assert b"configuration OK" in r.stdout
