#!/usr/bin/env python3
"""Checks the core's layering from its #include lines.

bot/ has one folder per subsystem; a subsystem may include the headers of
those below it only:

    base <- config <- store <- index, http
    base <- config <- xmpp <- chat
    cli, and daemon.c / main.c in bot/ itself, on top

The public plugin headers (include/fisbot) belong to the layer of what they
declare. A private header (*_int.h, *_internal.h, *_test.h) is included
only from its own folder (and by the tests). Exits 1 naming every include
that breaks a rule, 0 otherwise.

Usage: check_layers.py [REPO_ROOT]
"""
import os
import re
import sys

ALLOWED = {
    "base": set(),
    "config": {"base"},
    "store": {"base", "config"},
    "index": {"base", "config", "store"},
    "http": {"base", "config", "store"},
    "xmpp": {"base", "config"},
    "chat": {"base", "config", "store", "xmpp"},
    "cli": {"base", "config", "store", "index", "http"},
}
TOP = "top"  # bot/daemon.c, bot/main.c: may include anything

# The public headers and the layer each belongs to.
PUBLIC = {
    "alloc.h": "base", "log.h": "base", "text.h": "base", "units.h": "base",
    "clock.h": "base", "fisbot_export.h": "base", "fisbot_limits.h": "base", "strlist.h": "base", "config.h": "config",
    "catalogue.h": "store",
    "catalogue_tree.h": "store", "query.h": "store",
    "fisbot_plugin.h": "chat",
}
PRIVATE = re.compile(r"(_int|_internal|_test)\.h$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of_header(root, spelled, from_dir):
    """The layer and folder of a quoted include as the compiler finds it:
    next to the including file first, then bot/ and include/."""
    for base in (from_dir, os.path.join(root, "bot"),
                 os.path.join(root, "include")):
        path = os.path.normpath(os.path.join(base, spelled))
        if os.path.isfile(path):
            rel = os.path.relpath(path, root).split(os.sep)
            if rel[0] == "include":
                return PUBLIC.get(rel[-1], "?public"), "include"
            if rel[0] == "bot" and len(rel) == 3:
                return rel[1], os.path.join("bot", rel[1])
            return TOP, "bot"
    return None, None  # system or generated (version.h)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    errors = []
    for d, _, files in os.walk(os.path.join(root, "bot")):
        rel_dir = os.path.relpath(d, root)
        parts = rel_dir.split(os.sep)
        me = parts[1] if len(parts) > 1 else TOP
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            text = open(os.path.join(d, f), encoding="utf-8").read()
            for spelled in INCLUDE.findall(text):
                layer, folder = layer_of_header(root, spelled, d)
                where = f"{rel_dir}/{f}: \"{spelled}\""
                if layer is None:
                    if spelled != "version.h":
                        errors.append(f"{where}: not found next to the "
                                      "file, in bot/ or in include/")
                    continue
                if PRIVATE.search(spelled) and folder != rel_dir:
                    errors.append(f"{where}: a private header of {folder}")
                if me == TOP or layer == me:
                    continue
                if layer not in ALLOWED.get(me, set()):
                    errors.append(f"{where}: {me} may not depend on {layer}")
    for e in errors:
        print(e)
    print(f"layers: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
