"""The packaging layer: what `cmake --install` puts in place (and nowhere
else), the man pages, the systemd unit. The integration helpers
(prosody.py, fisbot_proc.py, xmpp_client.py) are shared with
tests/integration.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
