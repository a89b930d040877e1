"""The demo's configuration (scripts/demo): examples/demo/fisbot.conf with
only the ports and paths of one run put in, so that the demo shows what
the example configures (rooms, invitations, admins, announcements,
uploads...). Tested by tests/integration/test_demo_config.py."""
import re


def override(text, keys):
    """examples/demo/fisbot.conf with the values of keys ({section: {key:
    value}}) put in: a key's line is replaced (its comment goes with it),
    a missing key ends its section, a missing section ends the file."""
    out, section, left = [], None, {s: dict(k) for s, k in keys.items()}
    replaced = False

    def flush():
        # Before the blank lines that end the section.
        end = len(out)
        while end > 0 and out[end - 1].strip() == "":
            end -= 1
        out[end:end] = [f"{k} = {v}" for k, v in
                        left.pop(section, {}).items()]

    for line in text.splitlines():
        # The indented lines that go on a replaced line's comment.
        if replaced and re.match(r"\s+;", line):
            continue
        replaced = False
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            flush()
            section = m.group(1).strip()
        else:
            m = re.match(r"\s*([A-Za-z_]+)\s*=", line)
            if m and m.group(1) in left.get(section, {}):
                line = f"{m.group(1)} = {left[section].pop(m.group(1))}"
                replaced = True
        out.append(line)
    flush()
    for s, k in left.items():
        out.append(f"\n[{s}]")
        out.extend(f"{key} = {v}" for key, v in k.items())
    return "\n".join(out) + "\n"


def demo_keys(xmpp_port, ca_file, share, run, http_port, plugin_dir):
    """What the demo puts into the example: this run's ports and paths
    (and TLS, which the demo's server speaks, with its own CA)."""
    return {
        "xmpp": {"server": f"127.0.0.1:{xmpp_port}", "tls": "required",
                 "ca_file": ca_file},
        "share": {"path": share, "database": run / "fisbot.db"},
        "http": {"listen": f"127.0.0.1:{http_port}",
                 "base_url": f"http://127.0.0.1:{http_port}",
                 "secret_file": run / "fisbot.key"},
        "plugins": {"path": plugin_dir},
    }
