"""The processes of a run: fleetsim, ringprobe and fping. Each is started, watched, measured
(CPU, peak RSS) and stopped by its pid; Procs kills whatever is left on the way out."""
import json
import math
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import time

from .common import FLEETSIM, RP, addr, fams, die, frac, free_port, http_get, log
from .truth import TruthError, read_truth

FPING_PER_PROC_1S = 5000  # targets per fping at a 1 s period: 10 s x 5,000 < 65,535
SNMP_RETRIES = 1


class Procs:
    """Children this run started, ended by pid on the way out."""

    def __init__(self):
        self.live = []

    def add(self, p):
        self.live.append(p)
        return p

    def done(self, p):
        if p in self.live:
            self.live.remove(p)

    def cleanup(self):
        for p in reversed(self.live):
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self.live = []


def proc_cpu_rss(pid):
    """(utime + stime in s, peak RSS in MB) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, hwm / 1024


def tail(path, n=8):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---- fleetsim -----------------------------------------------------------------------------------


def start_fleetsim(procs, a, truth, replies, work, tag):
    cmd = [FLEETSIM, "--devices", str(a.devices), "--seed", str(a.seed),
           "--latency", a.latency, "--loss", a.loss, "--truth", truth, "--spin", str(a.spin)]
    if replies:  # None: no reply records (bench/soak: hours of them would fill the disk)
        cmd += ["--replies", replies]
    if float(a.down.rstrip("%")) > 0:
        cmd += ["--down", a.down]
    if a.flap and float(a.flap.split(":")[0].rstrip("%")) > 0:
        cmd += ["--flap", a.flap]
    cmd += ["--snmp-none", a.snmp_none, "--snmp-slow", a.snmp_slow]
    if getattr(a, "family", "4") != "4":  # an IPv4 run keeps its command as it was
        cmd += ["--family", a.family]
    cmd += shlex.split(a.sim_args)
    fs = procs.add(subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                    stderr=open(f"{work}/fleetsim-{tag}.log", "w")))
    r, _, _ = select.select([fs.stdout], [], [], 30)
    line = fs.stdout.readline() if r else b""
    if line != b"ready\n":
        die(f"fleetsim did not print ready: {' '.join(cmd)} (see {work}/fleetsim-{tag}.log)")
    if a.timerslack_ns:
        # its ppoll() timeouts then end when asked, not up to 50 us later (the default slack)
        with open(f"/proc/{fs.pid}/timerslack_ns", "w") as f:
            f.write(str(a.timerslack_ns))
    return fs, cmd


def stop_fleetsim(procs, fs, truth):
    """Stops fleetsim (SIGTERM: it writes its truth file and reply records) and returns its
    truth (truth.read_truth()) with cpu_s, its CPU time over the whole run."""
    cpu, _ = proc_cpu_rss(fs.pid)
    fs.send_signal(signal.SIGTERM)
    try:
        rc = fs.wait(timeout=30)
    except subprocess.TimeoutExpired:
        die("fleetsim did not stop on SIGTERM")
    procs.done(fs)
    if rc != 0:
        die(f"fleetsim exited with {rc}")
    try:
        t = read_truth(truth)
    except TruthError as e:
        die(str(e))
    t["cpu_s"] = round(cpu, 2)  # fleetsim's utime + stime over its whole run
    return t


# ---- ringprobe ----------------------------------------------------------------------------------


def snmp_settings(a):
    """ringprobe's SNMP keys for the run, or None with --no-snmp.

    snmp.max_inflight: ringprobe's default, 256, unless --snmp-max-inflight says otherwise;
    with 0, sized so that the rate alone paces the polls: a poll stays in flight until the
    answer or the last timeout, so at the rate the sessions in flight are about rate x
    (the devices that never answer: no agent, down, flapping; x timeout x (retries + 1)
    + the slow agents x their delay); 1.5 times that, 256 .. 4,096. With the defaults:
    2,000 x (0.12 x 4 s + 0.05 x 1.5 s) ~ 1,110 in flight, 1,665 allowed. Every session
    costs memory (2,000 devices: RSS 47 MB at 256, 56 MB at 4,096; 42 MB without SNMP).
    snmp_burst_limit stays at its default (50); snmp_interval at its default (1h): one
    poll per device in a run (a failed one is tried again after snmp_interval too)."""
    if a.no_snmp:
        return None  # snmp.enabled: false
    quiet = frac(a.snmp_none) + float(a.down.rstrip("%")) / 100
    if a.flap:
        quiet += float(a.flap.split(":")[0].rstrip("%")) / 100
    delay = 1.5  # fleetsim's --snmp-delay default
    m = re.search(r"--snmp-delay[= ]([0-9.]+)", a.sim_args)
    if m:
        delay = float(m.group(1)) / 1000
    need = a.snmp_rate * (min(1.0, quiet) * a.snmp_timeout * (SNMP_RETRIES + 1)
                          + frac(a.snmp_slow) * delay + 0.01)
    inflight = a.snmp_max_inflight or min(4096, max(256, math.ceil(need * 1.5)))
    if delay >= a.snmp_timeout:
        log(f"warning: fleetsim's slow agents answer after {delay:g} s, not before "
            f"snmp.timeout {a.snmp_timeout:g} s: ringprobe will not hear them")
    return {"rate": a.snmp_rate, "timeout_ms": int(round(a.snmp_timeout * 1000)),
            "retries": SNMP_RETRIES, "max_inflight": inflight}


def run_ringprobe(procs, a, work, sink, ndev_rate):
    hport = free_port()
    timeout = min(1.0, a.interval)
    rate = max(20000, math.ceil(ndev_rate * 1.1))
    snmp = snmp_settings(a)
    snmp_yml = "snmp:\n  enabled: false\n" if snmp is None else f"""snmp_rate_limit: {snmp['rate']:g}
snmp:
  timeout: {snmp['timeout_ms']}ms
  retries: {snmp['retries']}
  max_inflight: {snmp['max_inflight']}
"""
    # The writer's knobs stay in influxdb: for remote write, only its URL moves.
    sink_yml = ("influxdb:\n  flush_interval: 1s\nprometheus_remote_write:\n"
                f"  url: {sink.write_url()}\n" if getattr(sink, "remote_write", False) else
                f"influxdb:\n  url: {sink.url}\n  database: {sink.db}\n  flush_interval: 1s\n")
    with open(f"{work}/ringprobe.yml", "w") as f:
        f.write(f"""ping_interval: {int(a.interval * 1000)}ms
ping_timeout: {int(timeout * 1000)}ms
ping_rate_limit: {rate}
max_devices: {a.devices * len(fams(a.family))}
health_check_port: {hport}
health_report_interval: 10s
{sink_yml}spool:
  dir: {work}/spool
{snmp_yml}{a.rp_conf + chr(10) if a.rp_conf else ""}devices:
""")
        for i in range(a.devices):
            for fam in fams(a.family):
                f.write(f"  - {addr(i, fam)}\n")
    rp = procs.add(subprocess.Popen([RP, "run", "--config", f"{work}/ringprobe.yml"],
                                    stdout=subprocess.DEVNULL,
                                    stderr=open(f"{work}/ringprobe.log", "w")))
    deadline = time.monotonic() + 60
    while http_get(f"http://127.0.0.1:{hport}/health/ready", 1)[0] != 200:
        if rp.poll() is not None or time.monotonic() > deadline:
            die(f"ringprobe did not become ready:\n{tail(f'{work}/ringprobe.log')}")
        time.sleep(0.05)
    t0 = time.monotonic()
    ready_ms = time.time_ns() // 1000000
    log(f"ringprobe ready: {a.devices} devices every {a.interval:g} s for {a.seconds} s")
    while time.monotonic() < t0 + a.seconds:
        if rp.poll() is not None:
            die(f"ringprobe exited early ({rp.returncode}):\n{tail(f'{work}/ringprobe.log')}")
        time.sleep(min(0.5, max(0.0, t0 + a.seconds - time.monotonic())))
    _, body = http_get(f"http://127.0.0.1:{hport}/health", 5)
    cpu, rss_mb = proc_cpu_rss(rp.pid)
    rp.send_signal(signal.SIGTERM)
    t1 = time.monotonic()
    try:
        rc = rp.wait(timeout=60)
    except subprocess.TimeoutExpired:
        die("ringprobe did not stop within 60 s of SIGTERM")
    procs.done(rp)
    if rc != 0:
        die(f"ringprobe exited with {rc}:\n{tail(f'{work}/ringprobe.log')}")
    try:
        health = json.loads(body)
    except ValueError:
        die(f"no /health JSON before the stop: {body[:200]!r}")
    return {"health": health, "cpu_s": cpu, "rss_mb": rss_mb, "run_s": t1 - t0, "rate": rate,
            "timeout_s": timeout, "ready_ms": ready_ms, "snmp": snmp}


# ---- fping --------------------------------------------------------------------------------------


def run_fping(procs, a, work):
    if not shutil.which("fping"):
        die("fping is not installed (scripts/packages.txt lists it)")
    per = max(1, int(FPING_PER_PROC_1S * a.interval))
    nproc = a.fping_procs or math.ceil(a.devices / per)
    per = math.ceil(a.devices / nproc)
    count = round(a.seconds / a.interval)
    period_ms = int(a.interval * 1000)
    timeout_ms = int(min(1.0, a.interval) * 1000)
    # -i: one round of a process's targets within 40% of the period. fping spaces its sends
    # by more than -i, so at 90% (-i 0.45 over 2,000 targets) it took 12.9 s for 10 rounds;
    # at 40% it holds the period (9.7 s) and each target still gets its -p period
    gap_ms = round(period_ms * 0.4 / per, 3)
    runs = []
    t0 = time.monotonic()
    for j in range(nproc):
        lst = f"{work}/fping-{j}.txt"
        with open(lst, "w") as f:
            for i in range(j * per, min(a.devices, (j + 1) * per)):
                f.write(addr(i, 6 if a.family == "6" else 4) + "\n")
        cmd = ["fping", "-c", str(count), "-p", str(period_ms), "-i", f"{gap_ms:g}",
               "-t", str(timeout_ms), "-f", lst]
        p = procs.add(subprocess.Popen(cmd, stdout=open(f"{work}/fping-{j}.out", "wb"),
                                       stderr=open(f"{work}/fping-{j}.err", "wb")))
        runs.append({"p": p, "cmd": cmd, "j": j})
    log(f"fping: {nproc} processes of up to {per} targets, -c {count} -p {period_ms} "
        f"-i {gap_ms:g} -t {timeout_ms}")
    # CPU from wait4(); peak RSS from /proc/PID/status while each runs (wait4's ru_maxrss
    # would include this Python process, which the child was forked from before its exec)
    cpu = 0.0
    rcs = []
    hwm = {r["p"].pid: 0.0 for r in runs}
    left = list(runs)
    while left:
        time.sleep(0.2)
        for r in list(left):
            pid = r["p"].pid
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            hwm[pid] = max(hwm[pid], int(line.split()[1]) / 1024)
            except OSError:
                pass
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got == 0:
                continue
            left.remove(r)
            r["p"].returncode = os.waitstatus_to_exitcode(status)
            procs.done(r["p"])
            cpu += ru.ru_utime + ru.ru_stime
            rcs.append(r["p"].returncode)
    rss = sum(hwm.values())
    return {"runs": runs, "nproc": nproc, "per": per, "count": count, "cpu_s": cpu,
            "rss_mb": rss, "rcs": rcs, "gap_ms": gap_ms, "wall_s": time.monotonic() - t0,
            "cmd": " ".join(runs[0]["cmd"][:-2]) + " -f <list>"}
