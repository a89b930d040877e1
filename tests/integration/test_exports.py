"""The boundary between fisbot and its plugins, checked on the binaries of
this build with nm: the fisbot executable exports exactly the core
functions the public headers (include/fisbot) mark FB_EXPORT, nothing
internal such as indexer_start or session_new; every core function a
shipped plugin calls is among them; and each plugin exports only its entry
points (FISBOT_PLUGIN, fisbot_plugin_init, fisbot_plugin_fini).
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "include" / "fisbot"
BUILD = Path(os.environ.get("FISBOT_BUILD_DIR", ROOT / "build"))
BIN = Path(os.environ.get("FISBOT_BIN", BUILD / "bot" / "fisbot"))
PLUGIN_DIR = Path(os.environ.get("FISBOT_PLUGIN_DIR", BUILD / "plugins"))
CORE = Path(os.environ.get("FISBOT_CORE_LIB", BUILD / "bot" / "libfisbotcore.a"))

ENTRY_POINTS = {
    "fisbot_plugin_api_version",
    "fisbot_plugin_name",
    "fisbot_plugin_table",
    "fisbot_plugin_init",
    "fisbot_plugin_fini",
}

# Functions of the core that plugins must not reach: the indexer, the XMPP
# session, the HTTP server and its key, the host, the writing side of the
# catalogue.
INTERNAL = [
    "indexer_start",
    "session_new",
    "http_start",
    "token_key_load",
    "upload_offer",
    "host_new",
    "cmdarg_resolve",
    "catalogue_open",
    "catalogue_upsert",
    "config_load",
    "budget_new",
]


def nm(*args):
    """Returns the lines nm prints for args."""
    out = subprocess.run(["nm", *args], check=True, capture_output=True,
                         text=True).stdout
    return out.splitlines()


def dynamic_defined(path):
    """The names path exports (its defined dynamic symbols)."""
    names = set()
    for line in nm("-D", "--defined-only", str(path)):
        fields = line.split()
        if len(fields) == 3:
            names.add(fields[2].split("@")[0])
    return names


def dynamic_undefined(path):
    """The names path needs from elsewhere."""
    names = set()
    for line in nm("-D", "--undefined-only", str(path)):
        fields = line.split()
        if fields:
            names.add(fields[-1].split("@")[0])
    return names


def core_globals():
    """The global symbols the core library defines (code and data),
    without the sanitizers' own (__asan..., __odr_asan...)."""
    names = set()
    for line in nm("-g", "--defined-only", str(CORE)):
        fields = line.split()
        if len(fields) == 3 and fields[1] in "TDBRV" and \
                not fields[2].startswith("__"):
            names.add(fields[2])
    return names


def declared_exports():
    """The functions include/fisbot marks FB_EXPORT, plugins' entry
    points aside."""
    names = set()
    for header in PUBLIC.glob("*.h"):
        text = header.read_text()
        for m in re.finditer(r"^FB_EXPORT\s[^;(=]*?\b([A-Za-z_]\w*)\s*\(",
                             text, re.M):
            names.add(m.group(1))
    return names - ENTRY_POINTS


def plugins():
    found = sorted(PLUGIN_DIR.glob("*.so"))
    assert found, f"no plugins in {PLUGIN_DIR}"
    return found


@pytest.fixture(scope="module")
def core():
    return core_globals()


@pytest.fixture(scope="module")
def exported():
    return dynamic_defined(BIN)


def test_public_headers_declare_exports():
    names = declared_exports()
    # A sample of each header, so that a broken pattern cannot pass.
    for name in ["xmalloc", "log_warnx", "text_sanitize",
                 "units_parse_size", "query_parse", "catalogue_search",
                 "catalogue_tree_page", "config_plugin"]:
        assert name in names


def test_internal_functions_are_not_exported(core, exported):
    for name in INTERNAL:
        assert name in core, f"{name} is not a core function any more"
        assert name not in exported, f"fisbot exports {name}"


def test_fisbot_exports_exactly_the_public_functions(core, exported):
    want = declared_exports()
    got = exported & core
    assert not want - core, f"declared but not defined: {want - core}"
    assert not got - want, f"exported, not FB_EXPORT: {sorted(got - want)}"
    assert not want - got, f"FB_EXPORT, not exported: {sorted(want - got)}"


@pytest.mark.parametrize("plugin", plugins(), ids=lambda p: p.stem)
def test_plugin_calls_only_exported_functions(plugin, core, exported):
    needs = dynamic_undefined(plugin) & core
    assert not needs - exported, \
        f"{plugin.name} calls unexported {sorted(needs - exported)}"


@pytest.mark.parametrize("plugin", plugins(), ids=lambda p: p.stem)
def test_plugin_exports_only_entry_points(plugin):
    names = {n for n in dynamic_defined(plugin) if not n.startswith("_")}
    assert names - ENTRY_POINTS == set(), \
        f"{plugin.name} exports {sorted(names - ENTRY_POINTS)}"
    assert {"fisbot_plugin_api_version", "fisbot_plugin_name"} <= names


def test_example_plugin_builds_against_the_installed_headers(tmp_path):
    """cmake --install puts the public headers in include/fisbot; the
    example plugin builds against that folder (and libstrophe) alone, and
    exports only its entry points."""
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix",
                    str(prefix)], check=True, capture_output=True)
    include = prefix / "include" / "fisbot"
    installed = {p.name for p in include.glob("*.h")}
    assert installed == {p.name for p in PUBLIC.glob("*.h")}
    assert "fisbot_plugin.h" in installed and "upload.h" not in installed
    strophe = subprocess.run(["pkg-config", "--cflags", "libstrophe"],
                             check=True, capture_output=True,
                             text=True).stdout.split()
    out = tmp_path / "ping.so"
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC",
                    "-fvisibility=hidden", "-std=gnu11", "-Wall", "-Werror",
                    "-I", str(include), *strophe, "-o", str(out),
                    str(ROOT / "examples" / "plugin" / "ping.c")],
                   check=True, cwd=tmp_path)
    names = {n for n in dynamic_defined(out) if not n.startswith("_")}
    assert names == {"fisbot_plugin_api_version", "fisbot_plugin_name",
                     "fisbot_plugin_table", "fisbot_plugin_init",
                     "fisbot_plugin_fini"}
