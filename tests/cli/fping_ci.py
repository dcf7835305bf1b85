#!/usr/bin/env python3
"""fping 5.1's own test suite (tests/data/fping-ci/test-*.pl, Perl Test::Command) run
against ringprobe installed under the name `fping` and against Debian's /usr/bin/fping,
on the same machine, both at once, each in namespaces of its own. Every assertion Debian's fping passes must
pass for ringprobe too. Prints TAP: one line per test file, then the counts.

Root only (else the plan is a visible skip): everything runs in new network, mount and
PID namespaces (unshare): only lo exists, 198.18.0.0/15 routed into it, so
nothing leaves the machine; /etc/resolv.conf is bound over by one naming a dnsmasq on
127.0.0.1 that this script starts (NXDOMAIN for example.com, nothing forwarded), so no
name is resolved by a real server; the tests' `pkill fping` only sees this PID
namespace's processes; /tmp is a private tmpfs. The addresses the suite pings on the
internet (8.8.8.7, 8.8.0.0: unreachable hosts) are rewritten to 198.19.8.7 and
198.19.0.0, which nothing answers there.

Usage: fping_ci.py SOURCE_ROOT RINGPROBE_BINARY [FILE...]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Beyond the suite: command lines whose whole output (times masked) and exit code must
# be the same for both tools. SIG: sent SIGINT after 1.5 s. LIST: a file of targets.
EXTRA = [
    "-h", "-c xxx 127.0.0.1", "-p 500 -t abc 127.0.0.1", "--foo 127.0.0.1", "--count",
    "--loop=3 127.0.0.1", "-g 127.0.0.1", "-g 127.0.0.1/33", "-g ::1/64",
    "-g 127.0.0.5 127.0.0.1", "-g 127.0.0.1 127.0.0.2 127.0.0.3", "-g bla/24",
    "-g 127.0.0.1 127.0.0.4", "-a -u 127.0.0.1", "-c 1 -l 127.0.0.1", "-H 300 127.0.0.1",
    "-b 70000 127.0.0.1", "-B 0.5 127.0.0.1", "-x 1 127.0.0.1",
    "-r0 -t 50 -u 127.0.0.1 198.19.0.1", "-r0 -t 50 -x 2 127.0.0.1 198.19.0.1",
    "-q -c 3 -p 100 127.0.0.1 127.0.0.2", "-C 3 -p 100 -q 127.0.0.1 198.19.0.1",
    "-A -n 127.0.0.1", "-d 127.0.0.1", "-n localhost", "-4 -m -A localhost",
    "-A -d 127.0.0.2", "-n 127.0.0.2", "-A two.example.com", "-d -r0 -t 50 198.19.0.1",
    "-o -c 3 -p 100 -t 50 198.19.0.1", "-s -c 2 -p 100 127.0.0.1", "-e -a 127.0.0.1",
    "-S 127.0.0.1 127.0.0.1", "-I lo 127.0.0.1", "-I nosuchif 127.0.0.1", "-f /nonexistent",
    "-c 2 -p 100 -f LIST", "-f - < LIST", "< LIST", "-r 1 -t 50 -s 198.19.0.1 127.0.0.1",
    "-q nosuch.example.com 127.0.0.1", "nosuch.example.com", "-4 ::1", "-6 127.0.0.1",
    "127.0.0.1 -- -c", "-c 2 -p 100 127.0.0.1 127.0.0.1", "-u -r 0 -t 50 198.19.0.1 198.19.0.1",
    "--size=100 --count=2 --period=100 ::1", "-c0 127.0.0.1", "-T 5 127.0.0.1",
    "-N -c 2 -Q 1 127.0.0.1", "-l -p 200 -Q 1 127.0.0.1 SIG", "-D -c 2 -p 100 127.0.0.1",
    "-H 64 -O 16 -M -b 100 -R -S 127.0.0.1 -I lo -c 2 -p 100 127.0.0.1",
    "-b 1000 -H 2 -c 1 ::1",
]

# `ringprobe ping` (the binary under its own name) in the same namespace: exit code and
# standard output expected. Reverse lookups through --dns-servers (c-ares with exactly
# that server), the same through the system's configuration, and a refused packet option.
OWN = [
    ("ping -n --dns-servers 127.0.0.1:53 127.0.0.2", 0, "two.example.com is alive\n"),
    ("ping -A -d 127.0.0.2", 0, "two.example.com (127.0.0.2) is alive\n"),
    ("ping -a -r 0 -t 50 -d --dns-servers 127.0.0.1:53 198.19.0.1 127.0.0.2", 1,
     "two.example.com\n"),
    ("ping -H 300 127.0.0.1", 2, ""),
]

REWRITE = [("8.8.8.7", "198.19.8.7"), (r"8\.8\.8\.7", r"198\.19\.8\.7"),
           ("8.8.0.0", "198.19.0.0"), (r"8\.8\.0\.0", r"198\.19\.0\.0")]


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def setup_namespace(work):
    sh("ip", "link", "set", "lo", "up")
    # 198.18.0.0/15 routed into lo, where no address answers: an unreachable host.
    sh("ip", "route", "add", "198.18.0.0/15", "dev", "lo")
    sh("mount", "--make-rprivate", "/")
    with open(os.path.join(work, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\n")
    sh("mount", "--bind", os.path.join(work, "resolv.conf"), "/etc/resolv.conf")
    with open(os.path.join(work, "hosts"), "w") as f:
        f.write("127.0.0.2 two.example.com\n198.19.0.1 down.example.com\n")
    sh("/usr/sbin/dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
       "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53",
       "--local=/example.com/", "--user=root",
       "--addn-hosts=" + os.path.join(work, "hosts"),
       "--pid-file=" + os.path.join(work, "dnsmasq.pid"))
    sh("mount", "-t", "tmpfs", "tmpfs", "/tmp")


def run_suite(files, bindir, workdir):
    """{(file, n): ok} for every assertion, and per file its TAP text."""
    env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    env.pop("SKIP_IPV6", None)
    results, texts = {}, {}
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            src = f.read()
        for a, b in REWRITE:
            src = src.replace(a, b)
        copy = os.path.join(workdir, name)
        with open(copy, "w") as f:
            f.write(src)
        try:
            p = subprocess.run(["perl", copy], env=env, cwd=workdir, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=60)
            out = p.stdout
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") + "\n(timed out after 60 s)\n"
        texts[name] = out
        for m in re.finditer(r"^(not ok|ok) (\d+)", out, re.M):
            results[(name, int(m.group(2)))] = m.group(1) == "ok"
    return results, texts


def run_extra(bindir, workdir):
    env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    with open(os.path.join(workdir, "list"), "w") as f:
        f.write("# targets\n127.0.0.1 trailing words\n\n  127.0.0.2\n#127.0.0.3\n")
    out = {}
    for args in EXTRA:
        cmd = "fping " + args.replace("LIST", "list")
        if cmd.endswith(" SIG"):
            cmd = cmd[:-4] + " & p=$!; sleep 1.5; kill -INT $p; wait $p"
        p = subprocess.run(["sh", "-c", cmd], env=env, cwd=workdir, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        out[args] = [p.returncode, p.stdout, p.stderr]
    return out


def mask(text):
    text = re.sub(r"\d+\.\d+(e[+-]\d+)?", "T", text)
    text = re.sub(r"\[\d+:\d+:\d+\]", "[CLOCK]", text)
    text = re.sub(r"SET (min|avg|max) = \d+", r"SET \1 = N", text)
    return re.sub(r"Version .*", "Version", text)


def inner(src_root, tool, target, names):
    """Runs the suite against `target` installed as fping; prints its results as JSON."""
    work = tempfile.mkdtemp(prefix="fping-ci-", dir="/run")
    try:
        setup_namespace(work)
        data = os.path.join(src_root, "tests", "data", "fping-ci")
        files = sorted(os.path.join(data, f) for f in os.listdir(data)
                       if f.startswith("test-") and f.endswith(".pl"))
        if names:
            files = [f for f in files if os.path.basename(f) in names]
        d = tempfile.mkdtemp(prefix=tool + "-", dir="/tmp")
        bindir = os.path.join(d, "bin")
        os.mkdir(bindir)
        os.symlink(target, os.path.join(bindir, "fping"))
        t0 = time.monotonic()
        results, texts = run_suite(files, bindir, d)
        extra = run_extra(bindir, d) if not names else {}
        own = {}
        if tool == "ringprobe" and not names:
            for args, _, _ in OWN:
                p = subprocess.run([target] + args.split(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, timeout=30)
                own[args] = [p.returncode, p.stdout, p.stderr]
        json.dump({"files": [os.path.basename(f) for f in files], "extra": extra, "own": own,
                   "results": [[k[0], k[1], v] for k, v in results.items()],
                   "texts": texts, "seconds": time.monotonic() - t0}, sys.stdout)
        return 0
    finally:
        try:
            with open(os.path.join(work, "dnsmasq.pid")) as f:
                os.kill(int(f.read().strip()), 15)
        except (OSError, ValueError):
            pass
        shutil.rmtree(work, ignore_errors=True)


def compare(deb, rp):
    """TAP: per file, the assertions Debian's fping passes that ringprobe does not."""
    dres = {(f, n): ok for f, n, ok in deb["results"]}
    rres = {(f, n): ok for f, n, ok in rp["results"]}
    files = deb["files"]
    print("1..%d" % (len(files) + len(deb["extra"]) + len(rp["own"])))
    bad_total = 0
    for i, name in enumerate(files, 1):
        keys = sorted(k for k in dres if k[0] == name)
        dp = sum(1 for k in keys if dres[k])
        rpp = sum(1 for k in keys if rres.get(k))
        bad = [k[1] for k in keys if dres[k] and not rres.get(k)]
        bad_total += len(bad)
        print("%s %d - %s: %d assertions, Debian fping passes %d, ringprobe %d%s" %
              ("not ok" if bad else "ok", i, name, len(keys), dp, rpp,
               "; ringprobe fails %s" % bad if bad else ""))
        if bad:
            for line in rp["texts"].get(name, "").splitlines():
                print("#   " + line)
    extra_bad = 0
    for i, args in enumerate(deb["extra"], len(files) + 1):
        d, r = deb["extra"][args], rp["extra"].get(args, [None, "", ""])
        same = d[0] == r[0] and mask(d[1]) == mask(r[1]) and mask(d[2]) == mask(r[2])
        extra_bad += not same
        print("%s %d - fping %s: exit %s, output as Debian's fping%s" %
              ("ok" if same else "not ok", i, args, d[0], "" if same else " (differs)"))
        if not same:
            for who, v in (("debian", d), ("ringprobe", r)):
                print("#   %s: exit %s\n#   stdout: %r\n#   stderr: %r" % (who, v[0], v[1], v[2]))
    print("# %d command lines beyond the suite: %d print and exit as Debian's fping" %
          (len(deb["extra"]), len(deb["extra"]) - extra_bad))
    bad_total += extra_bad
    n = len(files) + len(deb["extra"])
    for args, rc, out in OWN:
        if args not in rp["own"]:
            continue
        n += 1
        got = rp["own"][args]
        good = got[0] == rc and got[1] == out
        bad_total += not good
        print("%s %d - ringprobe %s: exit %d, %r" % ("ok" if good else "not ok", n, args, rc, out))
        if not good:
            print("#   got exit %d\n#   stdout: %r\n#   stderr: %r" % tuple(got))
    print("# fping ci suite: %d assertions; Debian fping 5.1 passes %d (%.1f s), "
          "ringprobe passes %d (%.1f s); %d that Debian passes fail for ringprobe" %
          (len(dres), sum(dres.values()), deb["seconds"], sum(rres.values()),
           rp["seconds"], bad_total))
    return 0 if bad_total == 0 else 1


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--inner":
        sys.exit(inner(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network, mount and PID namespaces)")
        return
    missing = [p for p in ("/usr/bin/fping", "/usr/sbin/dnsmasq") if not os.path.exists(p)]
    if subprocess.run(["perl", "-MTest::Command", "-e1"], stderr=subprocess.DEVNULL).returncode:
        missing.append("Test::Command (libtest-command-perl)")
    if missing:
        print("1..0 # SKIP missing: " + ", ".join(missing))
        return
    # Both tools at once, each in namespaces of its own (its own lo, dnsmasq, /tmp and
    # PID space for the suite's pkill): the suite mostly waits for timeouts.
    procs = {}
    for tool, target in (("debian", "/usr/bin/fping"),
                         ("ringprobe", os.path.abspath(sys.argv[2]))):
        procs[tool] = subprocess.Popen(
            ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc",
             sys.executable, os.path.abspath(__file__), "--inner",
             os.path.abspath(sys.argv[1]), tool, target] + sys.argv[3:],
            stdout=subprocess.PIPE, text=True)
    out = {}
    for tool, p in procs.items():
        text, _ = p.communicate()
        if p.returncode:
            print("1..1\nnot ok 1 - the %s run failed (exit %d)" % (tool, p.returncode))
            sys.exit(1)
        out[tool] = json.loads(text)
    sys.exit(compare(out["debian"], out["ringprobe"]))


if __name__ == "__main__":
    main()
