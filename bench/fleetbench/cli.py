"""bench/fleet's command line: the options, the run (inside the network namespace) and main."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import __doc__ as DOC
from .common import fams, BASE, ENTRY, FLEETSIM, LAST_OK, RP, TOP, die, duration_s, frac, log
from .procs import Procs, run_fping, run_ringprobe, start_fleetsim, stop_fleetsim
from .report import plot, report
from .scoring import fping_figures, ringprobe_figures
from .selftest import selftest
from .sinks import SINKS
from .truth import TruthError, read_replies


def parse_args(argv):
    rtt_doc = next(x for x in DOC.split("\n\n") if x.startswith("The rtt error"))
    p = argparse.ArgumentParser(prog="bench/fleet", description=DOC.split("\n\n")[0],
                                epilog=rtt_doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, default=20000, help="simulated devices (20000)")
    p.add_argument("--interval", type=duration_s, default=1.0, help="ping_interval (1s)")
    p.add_argument("--seconds", type=int, default=60, help="run length after ready (60)")
    p.add_argument("--duration", type=duration_s, default=None,
                   help="run length as a duration, e.g. 60s or 2m (same as --seconds)")
    p.add_argument("--family", choices=["4", "6", "both"], default="4",
                   help="address family of the fleet (4): 6 probes each device at its IPv6 "
                        "twin (2001:2:: and its 32 bits, fleetsim --family 6), both at both "
                        "addresses (two probes per device per interval, scored per family)")
    p.add_argument("--seed", type=int, default=1, help="fleetsim --seed (1)")
    p.add_argument("--name", help="results name (default fleet-<devices>)")
    p.add_argument("--latency", default="longtail:5ms:1ms", help="fleetsim --latency (longtail:5ms:1ms)")
    p.add_argument("--loss", default="0.5", help="fleetsim --loss PCT (0.5)")
    p.add_argument("--down", default="1", help="fleetsim --down PCT (1)")
    p.add_argument("--flap", default="1:10s", help="fleetsim --flap PCT:PERIOD (1:10s)")
    p.add_argument("--spin", type=int, default=0,
                   help="fleetsim --spin US (0: a spinning simulator takes a whole core)")
    p.add_argument("--timerslack-ns", type=int, default=1000,
                   help="fleetsim's timer slack (1000; the kernel's default is 50,000)")
    p.add_argument("--sim-args", default="", help="more fleetsim options, e.g. '--dup 0.1'")
    p.add_argument("--rp-conf", default="",
                   help="more top-level keys for ringprobe's configuration, YAML, e.g. "
                        "'source_address: [2001:2::c613:fffe]' (fleetsim's own IPv6 address)")
    p.add_argument("--sink", choices=["vm", "influx", "vm-remote-write", "prometheus", "none"],
                   default="vm",
                   help="where ringprobe writes: vm (VictoriaMetrics, the default), influx "
                        "(influxd 1.x), vm-remote-write (VictoriaMetrics by Prometheus remote "
                        "write) or prometheus (Prometheus 2.42's remote-write receiver); none "
                        "is refused: `ringprobe run` needs a sink")
    p.add_argument("--compare", choices=["fping"], help="also run fping 5.1, a second row")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (logs, truth files, fping output)")
    p.add_argument("--fping-procs", type=int, default=0,
                   help="fping processes (0: enough for <= 5,000 probes/s each)")
    p.add_argument("--snmp-rate", type=float, default=2000.0,
                   help="ringprobe's snmp_rate_limit, requests/s (2000: 20,000 devices in 10 s)")
    p.add_argument("--snmp-none", default="0.1",
                   help="fleetsim --snmp-none: fraction of the devices without an agent, "
                        "0..1 or N%% (0.1)")
    p.add_argument("--snmp-slow", default="0.05",
                   help="fleetsim --snmp-slow: fraction of the agents that answer after "
                        "--snmp-delay (1.5 s unless --sim-args sets it), 0..1 or N%% (0.05)")
    p.add_argument("--snmp-timeout", type=duration_s, default=2.0,
                   help="ringprobe's snmp.timeout per attempt (2s; snmp.retries is 1)")
    p.add_argument("--snmp-max-inflight", type=int, default=256,
                   help="ringprobe's snmp.max_inflight (256, its default; 0: 1.5 x what "
                        "the rate keeps in flight with the fleet's quiet and slow agents, "
                        "256 .. 4096)")
    p.add_argument("--no-snmp", action="store_true",
                   help="ringprobe with snmp.enabled: false, and no SNMP figures")
    p.add_argument("--selftest", action="store_true",
                   help="check the truth and reply-record readers, the rtt and SNMP "
                        "scoring against them and the device_info readers (hand-made points "
                        "in VictoriaMetrics and influxd on loopback); no root (as root also "
                        "a real fleetsim's truth file)")
    a = p.parse_args(argv)
    if a.duration is not None:
        a.seconds = int(round(a.duration))
    for opt in ("snmp_none", "snmp_slow"):
        try:
            frac(getattr(a, opt))
        except ValueError:
            p.error(f"--{opt.replace('_', '-')}: a fraction 0..1 or a percentage (N%)")
    if a.snmp_rate <= 0 or a.snmp_timeout < 0.01 or not 0 <= a.snmp_max_inflight <= 4096:
        p.error("--snmp-rate must be positive, --snmp-timeout at least 10ms and "
                "--snmp-max-inflight 0 .. 4096")
    if a.devices < 1 or BASE + a.devices - 1 > LAST_OK:
        p.error(f"--devices must be 1 .. {LAST_OK - BASE + 1} (198.18.0.1 onwards, in /15)")
    if a.seconds < 1 or a.interval <= 0:
        p.error("--seconds and --interval must be positive")
    if a.name is None:
        n = a.devices
        a.name = f"fleet-{n // 1000}k" if n % 1000 == 0 else f"fleet-{n}"
        if a.family != "4":
            a.name += "-v6" if a.family == "6" else "-both"
    if a.compare == "fping" and a.family == "both":
        p.error("--compare fping: with --family 4 or 6 only (fping's per-target sequence "
                "cannot be paired with fleetsim's per-device request numbers over two "
                "addresses)")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", a.name):
        p.error("--name: letters, digits, '.', '_' and '-' only")
    if a.sink == "none":
        # validate.c: "influxdb.url: must be set: the daemon writes every result to InfluxDB
        # or VictoriaMetrics", exit 2 before anything starts. The repository's null sinks
        # are threads inside bench/bench_writer.c and the tests (tests/writer/servers.c), not
        # programs this script could start.
        p.error("--sink none: `ringprobe run` refuses to start without influxdb.url (exit 2, "
                "nothing started) and the repository has no stand-alone null HTTP sink; "
                "use --sink vm or --sink influx")
    return a


def replies(path, v6_keys=None):
    try:
        return read_replies(path, v6_keys)
    except TruthError as e:
        die(str(e))


def inner(a):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    date = time.strftime("%Y-%m-%d")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    res = os.path.join(TOP, "bench/results")
    stem = os.path.join(res, f"{date}-{a.name}")
    work = tempfile.mkdtemp(prefix="rp-bench-fleet.")
    procs = Procs()
    try:
        sink = SINKS[a.sink]()
        sink.start(procs, work)
        fs, _ = start_fleetsim(procs, a, f"{work}/truth-ringprobe.json",
                               f"{work}/replies-ringprobe.bin", work, "ringprobe")
        r = run_ringprobe(procs, a, work, sink, a.devices * len(fams(a.family)) / a.interval)
        truth = stop_fleetsim(procs, fs, f"{work}/truth-ringprobe.json")
        v6_keys = set() if a.family == "both" else None
        wire = replies(f"{work}/replies-ringprobe.bin", v6_keys)
        sink.flush()
        log(f"ringprobe stopped; reading the sink ({sink.name}) and the truth")
        fig, notes, per_s = ringprobe_figures(a, r, truth, sink, wire, v6_keys)
        del wire
        ffig = fnotes = None
        sink.stop(procs)
        if a.compare == "fping":
            fs, _ = start_fleetsim(procs, a, f"{work}/truth-fping.json",
                                   f"{work}/replies-fping.bin", work, "fping")
            f = run_fping(procs, a, work)
            ftruth = stop_fleetsim(procs, fs, f"{work}/truth-fping.json")
            fwire = replies(f"{work}/replies-fping.bin")
            ffig, fnotes = fping_figures(a, f, ftruth, fwire, work)
            del fwire
        plot_err = plot(per_s, a, stem + ".png", work)
        report(a, started, fig, notes, ffig, fnotes, plot_err, stem)
    finally:
        procs.cleanup()
        if a.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    a = parse_args(sys.argv[1:])
    if a.selftest:
        selftest(a)
    if os.geteuid() != 0:
        die("needs root (raw sockets, a TUN device, a private network namespace)", 2)
    if not os.environ.get("RP_IN_NETNS"):
        subprocess.run([os.path.join(TOP, "scripts/deps")], check=True)
        if subprocess.run([os.path.join(TOP, "scripts/build"), "release"],
                          stdout=subprocess.DEVNULL).returncode != 0:
            die("build failed")
        for b in (RP, FLEETSIM):
            if not os.access(b, os.X_OK):
                die(f"{b} is missing after the build")
        os.makedirs(os.path.join(TOP, "bench/results"), exist_ok=True)
        env = dict(os.environ, RP_IN_NETNS="1")
        os.execvpe("unshare", ["unshare", "-n", "--", sys.executable, ENTRY] + sys.argv[1:],
                   env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    inner(a)
