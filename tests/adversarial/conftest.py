"""The adversarial layer: each test plays a hostile peer against the real
fisbot binary (forged stanzas sent raw to a real Prosody, HTTP clients from
many loopback addresses, a full disk, pathological patterns) and checks
that the bot stays correct, responsive and bounded.

The integration helpers (prosody.py, xmpp_client.py, commands_fixture.py,
fisbot_proc.py) are shared with tests/integration.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from conftest_shared import bot  # noqa: E402,F401  (the Bot fixture)
