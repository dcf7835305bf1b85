#!/usr/bin/env python3
"""ringprobe(1) and --help agree: the commands, the global options, each command's
options and the configuration flags, term by term ("-c, --count COUNT").

Usage: check_manpage.py RINGPROBE_BINARY docs/ringprobe.1.scd
Prints TAP (scripts/test counts it); each "not ok" names what only one side has.
"""
import re
import subprocess
import sys

TERM = re.compile(r"^ {2,}(-\S.*?)(?: {2,}|$)")


def run_help(binary, *args):
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        raise RuntimeError("%s --help exited %d: %s" %
                           (" ".join(["ringprobe", *args]), out.returncode, out.stderr))
    return out.stdout


def help_terms(text):
    """{'options': [...], 'config': [...]} from one command's --help."""
    part, terms = None, {"options": [], "config": []}
    for line in text.splitlines():
        if line.startswith("Options:"):
            part = "options"
        elif line.startswith("Configuration flags"):
            part = "config"
        m = TERM.match(line)
        if part and m:
            terms[part].append(" ".join(m.group(1).split()))
    return terms


def help_commands(text):
    """The command names and the global options of `ringprobe --help`."""
    cmds, glob, inside = [], [], False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        m = re.match(r"^  ([a-z][a-z-]*)\s{2,}", line)
        if inside and m:
            cmds.append(m.group(1))
        m = re.match(r"^\s+ringprobe (--.*)$", line)
        if m:
            glob = re.findall(r"--[a-z-]+", m.group(1))
    return cmds, glob


def man_terms(path):
    """{section: [terms]}, with 'COMMANDS/<name>' for each command's subsection."""
    terms, section, key = {}, None, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            section = key = line[2:].strip()
        elif line.startswith("## ") and section == "COMMANDS":
            key = "COMMANDS/" + line[3:].strip()
        if key:
            terms.setdefault(key, [])
        # A term: "*-c*, *--count* _COUNT_", its description indented below it.
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if key and line.startswith("*-") and nxt.startswith("\t"):
            term = re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)[*_]", "", line))
            terms[key].append(" ".join(term.split()))
    return terms


def compare(n, name, helpside, manside):
    h, m = set(helpside), set(manside)
    dup = sorted({t for t in manside if manside.count(t) > 1})
    if h == m and not dup:
        print("ok %d - %s (%d)" % (n, name, len(h)))
        return True
    print("not ok %d - %s" % (n, name))
    for t in sorted(h - m):
        print("#   only in --help:  %s" % t)
    for t in sorted(m - h):
        print("#   only in the man page: %s" % t)
    for t in dup:
        print("#   twice in the man page: %s" % t)
    return False


def main():
    if len(sys.argv) != 3:
        print("usage: check_manpage.py RINGPROBE ringprobe.1.scd", file=sys.stderr)
        return 2
    binary, scd = sys.argv[1], sys.argv[2]
    man = man_terms(scd)
    cmds, glob = help_commands(run_help(binary))
    helps = {c: help_terms(run_help(binary, c)) for c in cmds}
    checks = [("commands: ringprobe --help vs COMMANDS", cmds,
               [k.split("/", 1)[1] for k in man if k.startswith("COMMANDS/")]),
              ("global options: ringprobe --help vs GLOBAL OPTIONS", glob,
               man.get("GLOBAL OPTIONS", []))]
    for c in cmds:
        checks.append(("options: ringprobe %s --help vs COMMANDS/%s" % (c, c),
                       helps[c]["options"], man.get("COMMANDS/" + c, [])))
    for c in cmds:
        if helps[c]["config"]:
            checks.append(("configuration flags: ringprobe %s --help vs "
                           "CONFIGURATION FLAGS" % c, helps[c]["config"],
                           man.get("CONFIGURATION FLAGS", [])))
    if not any(helps[c]["config"] for c in cmds):
        checks.append(("configuration flags listed by some command's --help", ["?"], []))
    print("1..%d" % len(checks))
    ok = True
    for i, (name, h, m) in enumerate(checks, 1):
        ok = compare(i, name, h, m) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
