"""bench/soak: `ringprobe run` for a long time against the simulated fleet, with everything
that changes in production happening every few minutes, to show that nothing leaks and no
point is lost.

One command, needs root. Builds release, re-executes itself under `unshare -n` (a private
network namespace: nothing it sends can leave it), brings lo up and then:

  1. starts VictoriaMetrics on a free loopback port (data in a temporary directory);
  2. starts bench/fleetsim (198.18.0.0/15 on a TUN device) with --devices N (3,000) devices
     from 198.18.0.1: loss, down devices, a fraction flapping (--flap, 5%:60s), SNMP agents
     (10% without one, 5% slow);
  3. starts `ringprobe run` at a 1 s interval with a spool directory and SNMP enrichment
     (snmp_interval --snmp-interval, so enrichment keeps running): about two thirds of the
     fleet as static `devices`, the rest found by sweeping one network (a /22 at 3,000,
     icmp_discovery_interval --sweep-every);
  4. for --minutes (30; --hours N for longer), timed from /health/ready:
     - every --reload-every s (150) rewrites the configuration and sends SIGHUP, alternating:
       a few static devices removed and prune_after 23h, then the devices back and 24h
       (each reload changes what is monitored; config_reloads is checked at the end);
     - every --sink-restart-every s (300) stops VictoriaMetrics (SIGTERM to its pid: it
       persists what it acknowledged), waits --sink-down s (20) while the daemon spools,
       and starts it again on the same port and data directory;
     - every --sample-every s (10) samples the daemon's VmRSS, open fds (/proc/PID/fd),
       threads (/proc/PID/task), CPU time and /health into bench/results/<stem>.csv;
     the last sink restart ends at least 2 minutes (a fifth of a short run) before the end;
  5. waits (up to 5 minutes) until /health shows the spool empty and nothing in flight,
     stops the daemon with SIGTERM and reads its last log line (points written, left in
     the spool, dropped);
  6. counts what VictoriaMetrics holds: distinct (series, timestamp) samples of ping_success
     (one per ping point), device_info_snmp_uptime_s, sweep_hosts_probed and
     health_metrics_uptime_s. VictoriaMetrics keeps a re-sent sample twice (no dedup is
     configured), so distinct timestamps are what counts: a batch the sink stored but whose
     answer the daemon never saw (sink stopped mid-request) is spooled and sent again.

Flatness: the mean of RSS, fds and threads over minutes 5-10 against the last 10 minutes;
goal within +-3% for RSS and fds (runs shorter than 20 minutes, the self-check, show the
second sixth against the last third and judge nothing: the fleet is still growing). Also the maximum and a least-squares slope of RSS after minute 5.

Accounting (two identities, both must hold):
  - sink = daemon: the distinct samples in VictoriaMetrics = points_written (the daemon's
    acknowledged points);
  - produced = delivered + dropped + left: the points the daemon made, from its counters
    in the last health_metrics point (written at the stop, after every probe): ping points
    = probes_sent - sweep_probes, device_info = snmp_answers, sweep points = the "sweep done"
    log lines, equals their distinct samples delivered + points_dropped (last log line) +
    ring_drops + the points left in the spool. health_metrics has no count of its own (a
    reload restarts its 10 s cadence): it is in the sink's total only, so when points were
    dropped the identity holds within them (some may have been health points). A device removed with its probe in flight yields no point (its slot
    is gone), so up to one ping point per removal (reloads, evictions, prunes) may be short.
A third goal: no point dropped at all (the sink is down for seconds; the spool holds 1 GiB).

Writes bench/results/<date>-soak-<minutes>m.{csv,json,md} (--name replaces soak-<minutes>m);
exit status 0 when every goal passes, 1 otherwise.

Usage: sudo bench/soak [--minutes N | --hours N] [--devices N] [--reload-every S]
                       [--sink-restart-every S] [--sink-down S] [--sweep-every S]
                       [--sample-every S] [--flap PCT:PERIOD] [--seed S] [--name NAME]
                       [--keep] [--no-build]
       bench/soak --minutes 3   (the self-check: reloads every 30 s, a sink restart every
                                 60 s, sweeps every 60 s)
"""
import argparse
import csv
import fcntl
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

from .common import BASE, FLEETSIM, LAST_OK, RP, TOP, addr, free_port, http_get
from .procs import Procs, proc_cpu_rss, start_fleetsim, tail
from .sinks import VictoriaMetrics

ENTRY = os.path.join(TOP, "bench/soak")
HEALTH_COLS = ("devices", "active", "suspended", "discovered", "probes_sent", "replies",
               "timeouts", "sweep_probes", "sweeps", "config_reloads", "config_reload_errors",
               "points_written", "points_dropped", "points_dropped_pool",
               "points_dropped_rejected", "points_dropped_spool_overflow",
               "points_dropped_spool_corrupt", "points_dropped_no_spool", "spool_io_errors",
               "batches_ok", "batches_failed", "batches_retried",
               "requests_inflight", "spool_points", "spool_bytes", "sink_down", "ring_drops",
               "commands_refused", "kernel_rx_drops", "snmp_polls", "snmp_ok",
               "snmp_timeouts", "snmp_errors", "snmp_devices", "max_late_ns")
GOAL_PCT = 3.0


def log(msg):
    print(f"bench/soak {time.strftime('%H:%M:%S')}: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/soak", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30, help="run length after ready (30)")
    p.add_argument("--hours", type=float, help="run length in hours (replaces --minutes)")
    p.add_argument("--devices", type=int, default=3000,
                   help="simulated devices (3000): a third swept, the rest static")
    p.add_argument("--reload-every", type=float, help="SIGHUP period, s (150; 30 under 10 min)")
    p.add_argument("--sink-restart-every", type=float,
                   help="sink restart period, s (300; 60 under 10 min)")
    p.add_argument("--sink-down", type=float, help="sink down per restart, s (20; 10 under 10 min)")
    p.add_argument("--sweep-every", type=float,
                   help="icmp_discovery_interval, s (180; 60 under 10 min)")
    p.add_argument("--snmp-interval", type=float,
                   help="snmp_interval, s (300; 60 under 10 min)")
    p.add_argument("--sample-every", type=float, default=10, help="sampling period, s (10)")
    p.add_argument("--flap", default="5:60s", help="fleetsim --flap PCT:PERIOD (5:60s)")
    p.add_argument("--seed", type=int, default=1, help="fleetsim --seed (1)")
    p.add_argument("--name", help="results name (default soak-<minutes>m)")
    p.add_argument("--sched-rr", type=int, default=0, metavar="PRIO",
                   help="run the whole stack (this script, fleetsim, VictoriaMetrics, ringprobe) "
                        "at SCHED_RR PRIO, ringprobe's probe threads at SCHED_FIFO PRIO+1 "
                        "(0: normal scheduling, probe threads at ringprobe's default); for a "
                        "host where real-time threads of something else hold the cores")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--recount", metavar="WORKDIR",
                   help="only the accounting again, from a kept work directory (sink data "
                        "and ringprobe.log), appended to the results --recount-stem")
    p.add_argument("--recount-stem", default="", metavar="STEM",
                   help="with --recount: the results to add it to, e.g. 2026-12-06-soak-90m")
    p.add_argument("--no-build", action="store_true", help="do not run scripts/build release")
    a = p.parse_args(argv)
    if a.hours is not None:
        a.minutes = a.hours * 60
    if a.minutes < 1:
        p.error("--minutes must be at least 1")
    short = a.minutes < 10
    a.reload_every = a.reload_every or (30 if short else 150)
    a.sink_restart_every = a.sink_restart_every or (60 if short else 300)
    a.sink_down = a.sink_down if a.sink_down is not None else (10 if short else 20)
    a.sweep_every = a.sweep_every or (60 if short else 180)
    a.snmp_interval = a.snmp_interval or (60 if short else 300)
    if not 0 <= a.sched_rr <= 98:
        p.error("--sched-rr must be 0 .. 98")
    if a.devices < 600 or a.devices > 60000:
        p.error("--devices must be 600 .. 60000")
    if a.name is None:
        a.name = f"soak-{a.minutes:g}m"
    if not re.fullmatch(r"[A-Za-z0-9._-]+", a.name):
        p.error("--name: letters, digits, '.', '_' and '-' only")
    return a


# ---- the fleet and the configuration ------------------------------------------------------------


def ip_of(a32):
    return f"{a32 >> 24}.{(a32 >> 16) & 255}.{(a32 >> 8) & 255}.{a32 & 255}"


def layout(n):
    """Statics from 198.18.0.1, then one aligned network of about n/3 addresses to sweep;
    fleetsim simulates every address up to the network's last host."""
    k = max(8, round(math.log2(n / 3)))
    blk = 1 << k
    nstatic = n - blk
    start = -(-(BASE + nstatic) // blk) * blk
    sim = (start + blk - 2) - BASE + 1
    if sim > LAST_OK - BASE + 1:
        die("the fleet does not fit in 198.18.0.0/15")
    toggle = max(1, min(10, nstatic // 100))
    return SimpleNamespace(nstatic=nstatic, net=f"{ip_of(start)}/{32 - k}", hosts=blk - 2,
                           sim=sim, toggle=toggle)


def write_config(a, lay, work, hport, vm_url, phase):
    """phase 0: every static device, prune_after 24h; phase 1: the last lay.toggle statics
    removed, prune_after 23h. Written beside and renamed, so a reload never reads half."""
    n = lay.nstatic - (lay.toggle if phase else 0)
    path = f"{work}/ringprobe.yml"
    with open(path + ".new", "w") as f:
        f.write(f"""ping_interval: 1s
ping_timeout: 1s
ping_rate_limit: 20000
{f"realtime_priority: {a.sched_rr + 1}" + chr(10) if a.sched_rr else ""}max_devices: {lay.nstatic + lay.hosts + 100}
health_check_port: {hport}
health_report_interval: 10s
icmp_discovery_interval: {int(a.sweep_every)}s
prune_after: {23 if phase else 24}h
shutdown_timeout: 60s
snmp_rate_limit: 100
snmp_interval: {int(a.snmp_interval)}s
snmp:
  timeout: 2s
  retries: 1
influxdb:
  url: {vm_url}
  database: rp
  flush_interval: 1s
spool:
  dir: {work}/spool
networks:
  - {lay.net}
devices:
""")
        for i in range(n):
            f.write(f"  - {addr(i)}\n")
    os.rename(path + ".new", path)
    return path


# ---- sampling -----------------------------------------------------------------------------------


def proc_sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    cpu, _ = proc_cpu_rss(pid)
    return rss, fds, threads, cpu


def health(hport, timeout=3):
    st, body = http_get(f"http://127.0.0.1:{hport}/health", timeout)
    if st not in (200, 503):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def windows(total_s):
    if total_s >= 20 * 60:
        return (300.0, 600.0), (total_s - 600.0, total_s), "minutes 5-10", "the last 10 minutes"
    return ((total_s / 6, total_s / 3), (total_s * 2 / 3, total_s),
            "the second sixth", "the last third (a short run: scaled windows)")


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def slope_per_h(rows, key, after_s):
    pts = [(r["t_s"], r[key]) for r in rows if r["t_s"] >= after_s]
    if len(pts) < 3:
        return None
    mx = mean([p[0] for p in pts])
    my = mean([p[1] for p in pts])
    den = sum((x - mx) ** 2 for x, _ in pts)
    return None if den == 0 else sum((x - mx) * (y - my) for x, y in pts) / den * 3600


def flatness(rows, total_s):
    (b0, b1), (l0, l1), bname, lname = windows(total_s)
    out = {"base_window": bname, "last_window": lname, "base_s": [b0, b1], "last_s": [l0, l1],
           "judged": total_s >= 20 * 60}
    for key in ("rss_kb", "fds", "threads"):
        base = mean([r[key] for r in rows if b0 <= r["t_s"] <= b1])
        last = mean([r[key] for r in rows if l0 <= r["t_s"] <= l1])
        chg = None if not base or last is None else (last - base) / base * 100
        out[key] = {"base_mean": base, "last_mean": last, "change_pct": chg,
                    "max": max((r[key] for r in rows), default=None),
                    "min": min((r[key] for r in rows), default=None),
                    "pass": chg is not None and abs(chg) <= GOAL_PCT or not out["judged"]}
    out["rss_kb"]["slope_kb_per_h"] = slope_per_h(rows, "rss_kb", min(300.0, total_s / 6))
    return out


# ---- accounting ---------------------------------------------------------------------------------


def count_samples(vm, metric):
    """(series, raw samples, distinct (series, timestamp) samples) of one metric."""
    series = raw = distinct = 0
    for s in vm.export(metric):
        series += 1
        raw += len(s["timestamps"])
        distinct += len(set(s["timestamps"]))
    return series, raw, distinct


def stop_line(logf):
    with open(logf) as f:
        text = f.read()
    m = re.findall(r'msg="stopped" points_written=(\d+) spooled_points=(\d+) points_dropped=(\d+)',
                   text)
    sweeps = len(re.findall(r'msg="sweep done"', text))
    reloads = len(re.findall(r'msg="configuration reloaded"', text))
    if not m:
        return None, sweeps, reloads
    w, s, d = (int(x) for x in m[-1])
    return {"written": w, "spooled_left": s, "dropped": d}, sweeps, reloads


def account(vm, stopped, sweeps_logged, removals):
    """The two identities (module doc). health_metrics has no count of its own (a reload
    restarts its cadence): it is in the sink's total, not in `produced`; a dropped one would
    be among points_dropped, so with drops the identity holds within them."""
    got = {}
    for name, metric in (("ping", "ping_success"), ("device_info", "device_info_snmp_uptime_s"),
                         ("sweep", "sweep_hosts_probed"),
                         ("health_metrics", "health_metrics_uptime_s")):
        series, raw, distinct = count_samples(vm, metric)
        got[name] = {"series": series, "raw": raw, "distinct": distinct}
    last = {k: vm.last(k) for k in ("probes_sent", "sweep_probes", "snmp_answers", "ring_drops",
                                    "evicted", "pruned")}
    if any(v is None for v in last.values()):
        die(f"no final health_metrics point in the sink: {last}")
    last = {k: int(v) for k, v in last.items()}
    expected = {"ping": last["probes_sent"] - last["sweep_probes"],
                "device_info": last["snmp_answers"], "sweep": sweeps_logged,
                "health_metrics": None}
    produced = sum(v for v in expected.values() if v is not None)
    delivered = sum(g["distinct"] for g in got.values())
    delivered_counted = delivered - got["health_metrics"]["distinct"]
    raw = sum(g["raw"] for g in got.values())
    dropped = stopped["dropped"]
    left = stopped["spooled_left"]
    short = produced - (delivered_counted + dropped + last["ring_drops"] + left)
    allowance = removals + last["evicted"] + last["pruned"]
    acc = {"measurements": {k: dict(got[k], expected=expected[k],
                                    missing=None if expected[k] is None
                                    else expected[k] - got[k]["distinct"]) for k in got},
           "final_point": last, "produced": produced, "delivered": delivered,
           "delivered_counted": delivered_counted, "delivered_raw": raw,
           "duplicates_in_sink": raw - delivered,
           "points_written": stopped["written"], "points_dropped": dropped,
           "ring_drops": last["ring_drops"], "spool_left": left, "unaccounted": short,
           "removal_allowance": allowance}
    acc["sink_equals_written"] = delivered == stopped["written"]
    acc["identity_holds"] = short <= allowance and short + dropped >= 0
    acc["no_drops"] = dropped == 0 and last["ring_drops"] == 0
    acc["pass"] = acc["sink_equals_written"] and acc["identity_holds"]
    return acc


# ---- the run ------------------------------------------------------------------------------------


class Run:
    def __init__(self, a, work, stem):
        self.a, self.work, self.stem = a, work, stem
        self.procs = Procs()
        self.vm = VictoriaMetrics()
        # VictoriaMetrics 1.79 exits fatally, without flushing what it acknowledged, when its
        # HTTP server is not idle within 7 s of SIGTERM (seen on a loaded host): the sink
        # would lose points that ringprobe counted as written
        self.vm.args = ["-http.maxGracefulShutdownDuration=60s"]
        self.vm_unclean = 0
        self.rows = []
        self.events = []
        self.removals = 0

    def event(self, t, what):
        self.events.append({"t_s": round(t, 1), "event": what})
        log(f"t={t:7.1f} s  {what}")

    def start(self):
        a, work = self.a, self.work
        self.lay = lay = layout(a.devices)
        self.vm.start(self.procs, work)
        sim = SimpleNamespace(devices=lay.sim, seed=a.seed, latency="longtail:5ms:1ms",
                              loss="0.5", down="1", flap=a.flap, snmp_none="0.1",
                              snmp_slow="0.05", spin=0, sim_args="", timerslack_ns=1000)
        self.fs, self.fs_cmd = start_fleetsim(self.procs, sim, f"{work}/truth.json", None,
                                              work, "soak")
        # the simulated network must not be what falls behind on a shared, busy machine: a
        # starved fleetsim answers seconds late, every device times out and is suspended
        os.setpriority(os.PRIO_PROCESS, self.fs.pid, -10)
        self.hport = free_port()
        self.phase = 0
        cfg = write_config(a, lay, work, self.hport, self.vm.url, self.phase)
        self.rp = self.procs.add(subprocess.Popen([RP, "run", "--config", cfg],
                                                  stdout=subprocess.DEVNULL,
                                                  stderr=open(f"{work}/ringprobe.log", "w")))
        deadline = time.monotonic() + 60
        while http_get(f"http://127.0.0.1:{self.hport}/health/ready", 1)[0] != 200:
            if self.rp.poll() is not None or time.monotonic() > deadline:
                die(f"ringprobe did not become ready:\n{tail(f'{work}/ringprobe.log')}")
            time.sleep(0.1)
        log(f"ready: {lay.nstatic} static devices (198.18.0.1..{addr(lay.nstatic - 1)}), "
            f"network {lay.net} swept every {a.sweep_every:g} s, fleetsim {lay.sim} devices "
            f"(flap {a.flap}), {a.minutes:g} minutes; SIGHUP every {a.reload_every:g} s, "
            f"sink restart every {a.sink_restart_every:g} s ({a.sink_down:g} s down)")

    def stop_vm(self):
        """SIGTERM, and a check that it stopped cleanly (flushed what it acknowledged)."""
        self.vm.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.vm.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            die("VictoriaMetrics did not stop within 120 s of SIGTERM")
        self.procs.done(self.vm.proc)
        with open(f"{self.work}/vm.log") as f:
            fatal = sum(1 for line in f if "\tfatal\t" in line or "\tpanic\t" in line)
        if rc != 0 or fatal > self.vm_unclean:
            self.vm_unclean = max(fatal, self.vm_unclean + 1)
            log(f"VictoriaMetrics stopped uncleanly (exit {rc}): it may have lost points it "
                f"acknowledged; see {self.work}/vm.log")

    def check_alive(self):
        if self.rp.poll() is not None:
            die(f"ringprobe exited ({self.rp.returncode}):\n"
                f"{tail(f'{self.work}/ringprobe.log', 20)}")
        if self.fs.poll() is not None:
            die(f"fleetsim exited ({self.fs.returncode})")
        if self.vm.proc.poll() is not None and self.vm.proc in self.procs.live:
            die(f"VictoriaMetrics exited ({self.vm.proc.returncode}):\n"
                f"{tail(f'{self.work}/vm.log')}")

    def sample(self, t, sink_up, w):
        rss, fds, threads, cpu = proc_sample(self.rp.pid)
        h = health(self.hport) or {}
        row = {"t_s": round(t, 1), "rss_kb": rss, "fds": fds, "threads": threads,
               "cpu_s": round(cpu, 2), "sink_up": int(sink_up)}
        for k in HEALTH_COLS:
            v = h.get(k)
            row[k] = int(v) if isinstance(v, bool) else v
        self.rows.append(row)
        w.writerow(row)
        self.csvf.flush()
        return row

    def loop(self):
        a = self.a
        total = a.minutes * 60
        tail_quiet = min(120.0, total / 5)
        t0 = time.monotonic()
        self.t0 = t0
        next_sample, next_reload = 0.0, a.reload_every
        next_restart = a.sink_restart_every
        sink_up, up_at = True, None
        self.restarts = self.reloads = 0
        self.csvf = open(self.stem + ".csv", "w", newline="")
        w = csv.DictWriter(self.csvf, fieldnames=["t_s", "rss_kb", "fds", "threads", "cpu_s",
                                                   "sink_up"] + list(HEALTH_COLS))
        w.writeheader()
        last_print = -1e9
        while True:
            t = time.monotonic() - t0
            if t >= total and sink_up:
                break
            self.check_alive()
            if not sink_up and t >= up_at:
                self.vm.start(self.procs, self.work, self.vm.port)
                sink_up = True
                self.event(t, "sink started again")
            if sink_up and t >= next_restart:
                if t + a.sink_down + tail_quiet <= total:
                    self.stop_vm()
                    sink_up, up_at = False, t + a.sink_down
                    self.restarts += 1
                    self.event(t, f"sink stopped (restart {self.restarts})")
                next_restart += a.sink_restart_every
            if t >= next_reload:
                if t + 30 <= total:
                    self.phase ^= 1
                    write_config(a, self.lay, self.work, self.hport, self.vm.url, self.phase)
                    self.rp.send_signal(signal.SIGHUP)
                    self.reloads += 1
                    if self.phase:
                        self.removals += self.lay.toggle
                    self.event(t, f"SIGHUP {self.reloads}: " + (
                        f"{self.lay.toggle} statics removed, prune_after 23h" if self.phase
                        else f"{self.lay.toggle} statics back, prune_after 24h"))
                next_reload += a.reload_every
            if t >= next_sample:
                r = self.sample(t, sink_up, w)
                next_sample += a.sample_every
                if t - last_print >= 60:
                    last_print = t
                    log(f"t={t:7.1f} s  rss {r['rss_kb'] / 1024:.1f} MB  fds {r['fds']}  "
                        f"threads {r['threads']}  devices {r['devices']}  written "
                        f"{r['points_written']}  dropped {r['points_dropped']}  spool "
                        f"{r['spool_points']}")
            time.sleep(0.2)
        self.csvf.close()
        self.run_s = time.monotonic() - t0

    def finish(self):
        """Spool drained, daemon stopped, sink counted."""
        drained = False
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            self.check_alive()
            h = health(self.hport) or {}
            if h.get("spool_points") == 0 and h.get("requests_inflight") == 0 \
                    and not h.get("sink_down"):
                drained = True
                break
            time.sleep(1)
        self.h_end = health(self.hport) or {}
        log(f"spool {'drained' if drained else 'NOT drained after 5 minutes'}; "
            "stopping ringprobe (SIGTERM)")
        cpu_end = proc_sample(self.rp.pid)[3]
        self.rp.send_signal(signal.SIGTERM)
        try:
            rc = self.rp.wait(timeout=120)
        except subprocess.TimeoutExpired:
            die("ringprobe did not stop within 120 s of SIGTERM")
        self.procs.done(self.rp)
        stopped, sweeps, reloads_logged = stop_line(f"{self.work}/ringprobe.log")
        if rc != 0 or stopped is None:
            die(f"ringprobe exited with {rc}:\n{tail(f'{self.work}/ringprobe.log', 20)}")
        self.fs.send_signal(signal.SIGTERM)
        try:
            self.fs.wait(timeout=30)
            self.procs.done(self.fs)
        except subprocess.TimeoutExpired:
            pass
        self.vm.flush()
        log("counting the points in VictoriaMetrics")
        acc = account(self.vm, stopped, sweeps, self.removals)
        self.stop_vm()  # cleanly: a kept work directory can be counted again (--recount)
        return {"drained": drained, "rc": rc, "stopped": stopped, "sweeps_logged": sweeps,
                "reloads_logged": reloads_logged, "cpu_s": round(cpu_end, 1),
                "accounting": acc}


def fmt(v, nd=1):
    return "n/a" if v is None else f"{v:.{nd}f}"


def pf(b):
    return "PASS" if b else "FAIL"


def accounting_lines(acc, h, sink_down):
    """The accounting part of the report; h: /health just before the stop."""
    lines = ["Accounting", "",
             "| measurement | expected | in the sink (distinct) | raw samples | missing |",
             "|---|---|---|---|---|"]
    for k, m in acc["measurements"].items():
        lines.append(f"| {k} | {'n/a' if m['expected'] is None else m['expected']} | "
                     f"{m['distinct']} | {m['raw']} | "
                     f"{'n/a' if m['missing'] is None else m['missing']} |")
    return lines + [
        "",
        f"- produced (ping, device_info, sweep) {acc['produced']} = delivered "
        f"{acc['delivered_counted']} + dropped {acc['points_dropped']} + ring drops "
        f"{acc['ring_drops']} + left in the spool {acc['spool_left']} + unaccounted "
        f"{acc['unaccounted']} (allowed 0 .. {acc['removal_allowance']}: removals with a "
        f"probe in flight; with drops, as low as -dropped: some may be health_metrics "
        f"points, which have no count of their own): {pf(acc['identity_holds'])}",
        f"- in the sink {acc['delivered']} = points_written {acc['points_written']}: "
        f"{pf(acc['sink_equals_written'])} ({acc['duplicates_in_sink']} samples "
        "stored twice: batches re-sent after a stop mid-request)",
        f"- points dropped (sink down for {sink_down:g} s with a spool): "
        f"{acc['points_dropped']} + ring drops {acc['ring_drops']}, by reason: "
        + ", ".join(f"{k[len('points_dropped_'):]} {h.get(k)}" for k in HEALTH_COLS
                    if k.startswith("points_dropped_"))
        + f" (/health before the stop): {pf(acc['no_drops'])}"]


def recount(a):
    """--recount WORKDIR: the accounting again, from a kept work directory (its
    VictoriaMetrics data and ringprobe.log), added to the results of that run."""
    work = a.recount
    stopped, sweeps, _ = stop_line(f"{work}/ringprobe.log")
    if stopped is None:
        die(f"{work}/ringprobe.log has no stop line")
    with open(f"{work}/ringprobe.log") as f:
        sent = sum(1 for line in f if 'msg="SIGHUP: reloading' in line)
    removals = (sent + 1) // 2 * layout(a.devices).toggle
    procs = Procs()
    vm = VictoriaMetrics()
    try:
        vm.start(procs, work)
        acc = account(vm, stopped, sweeps, removals)
    finally:
        procs.cleanup()
    stem = os.path.join(TOP, "bench/results", a.recount_stem)
    try:
        with open(stem + ".json") as f:
            res = json.load(f)
    except OSError:
        res = None
    h = res["health_at_end"] if res else {}
    lines = ["", "## Recount", "",
             f"`bench/soak --recount {work} --recount-stem {a.recount_stem}` "
             f"({time.strftime('%Y-%m-%dT%H:%M:%S%z')}): the accounting again from the kept "
             "sink data, health_metrics without a count of its own (the run's own accounting "
             "above counted gaps in its 10 s cadence as missing, but a reload restarts it).",
             ""] + accounting_lines(acc, h, res["sink_down_s"] if res else 0) + [""]
    print("\n".join(lines))
    if res:
        res["accounting_recount"] = acc
        with open(stem + ".json", "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        with open(stem + ".md", "a") as f:
            f.write("\n".join(lines))


def report(a, run, fin, started):
    fl = flatness(run.rows, a.minutes * 60)
    acc = fin["accounting"]
    h = run.h_end
    reload_ok = (h.get("config_reloads") == run.reloads and not h.get("config_reload_errors"))
    res = {"name": a.name, "started": started, "minutes": a.minutes, "run_s": round(run.run_s, 1),
           "devices_simulated": run.lay.sim, "static": run.lay.nstatic, "network": run.lay.net,
           "flap": a.flap, "reload_every_s": a.reload_every,
           "sink_restart_every_s": a.sink_restart_every, "sink_down_s": a.sink_down,
           "sweep_every_s": a.sweep_every, "snmp_interval_s": a.snmp_interval,
           "reloads": run.reloads, "sink_restarts": run.restarts, "samples": len(run.rows),
           "sink_unclean_stops": run.vm_unclean, "sched_rr": a.sched_rr,
           "flatness": fl, "health_at_end": {k: h.get(k) for k in HEALTH_COLS},
           "reloads_applied": h.get("config_reloads"), "reload_errors": h.get("config_reload_errors"),
           "reloads_pass": reload_ok, "daemon_cpu_s": fin["cpu_s"], "drained": fin["drained"],
           "stopped": fin["stopped"], "accounting": acc, "events": run.events,
           "fleetsim": " ".join(run.fs_cmd)}
    ok = (fl["rss_kb"]["pass"] and fl["fds"]["pass"] and acc["pass"] and acc["no_drops"]
          and reload_ok)
    pf_flat = (lambda b: "PASS" if b else "FAIL") if fl["judged"] else \
        (lambda b: "n/a (under 20 minutes)")
    res["pass"] = ok
    lines = [f"# bench/soak {a.name}: {a.minutes:g} minutes, {run.lay.sim} simulated devices",
             "",
             f"Started {started}. {run.lay.nstatic} static devices at 1 s, network "
             f"{run.lay.net} swept every {a.sweep_every:g} s ({h.get('discovered')} discovered), "
             f"flap {a.flap}, SNMP every {a.snmp_interval:g} s; {run.reloads} SIGHUP reloads "
             f"({h.get('config_reloads')} applied, {h.get('config_reload_errors')} rejected), "
             f"{run.restarts} sink restarts ({a.sink_down:g} s down each). "
             f"Daemon CPU {fin['cpu_s']} s." + (
                 f" The stack ran at SCHED_RR {a.sched_rr} (probe threads SCHED_FIFO "
                 f"{a.sched_rr + 1})." if a.sched_rr else ""),
             "",
             f"Flatness: mean over {fl['base_window']} vs {fl['last_window']} "
             f"(goal within ±{GOAL_PCT:g}%)",
             "",
             "| | base mean | last mean | change | min | max | goal |",
             "|---|---|---|---|---|---|---|"]
    for key, label, div in (("rss_kb", "RSS MB", 1024), ("fds", "open fds", 1),
                            ("threads", "threads", 1)):
        f = fl[key]
        d = 2 if div > 1 else 1
        lines.append(f"| {label} | {fmt(f['base_mean'] and f['base_mean'] / div, d)} | "
                     f"{fmt(f['last_mean'] and f['last_mean'] / div, d)} | "
                     f"{fmt(f['change_pct'], 2)}% | {fmt(f['min'] / div, d)} | "
                     f"{fmt(f['max'] / div, d)} | {pf_flat(f['pass'])} |")
    slope = fl["rss_kb"]["slope_kb_per_h"]
    lines += ["", f"RSS slope after {fl['base_window'].split('-')[0].strip()}: "
              f"{fmt(slope and slope / 1024, 2)} MB/hour (least squares).",
              ""] + accounting_lines(acc, h, a.sink_down) + [
              f"- reloads: {run.reloads} sent, {h.get('config_reloads')} applied: "
              f"{pf(reload_ok)}",
              f"- spool drained before the stop: {fin['drained']}",
              f"- sink stops that were not clean (VictoriaMetrics may have lost acknowledged "
              f"points): {run.vm_unclean}",
              "", f"Overall: {pf(ok)}", "",
              f"Command: bench/soak --minutes {a.minutes:g} --devices {a.devices} "
              f"--reload-every {a.reload_every:g} --sink-restart-every "
              f"{a.sink_restart_every:g} --sink-down {a.sink_down:g} --sweep-every "
              f"{a.sweep_every:g}" + (f" --sched-rr {a.sched_rr}" if a.sched_rr else ""),
              ""]
    text = "\n".join(lines)
    print(text)
    with open(run.stem + ".md", "w") as f:
        f.write(text)
    with open(run.stem + ".json", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    return ok


def inner(a):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if a.sched_rr:
        # inherited by every process started from here
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(a.sched_rr))
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    stem = os.path.join(TOP, "bench/results", f"{time.strftime('%Y-%m-%d')}-{a.name}")
    work = tempfile.mkdtemp(prefix="rp-bench-soak.")
    log(f"work directory {work}; results {stem}.{{csv,json,md}}")
    run = Run(a, work, stem)
    ok = False
    try:
        run.start()
        run.loop()
        fin = run.finish()
        ok = report(a, run, fin, started)
    finally:
        run.procs.cleanup()
        if a.keep or not ok:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


def build():
    """scripts/build release under a lock: two soaks started together share build/."""
    os.makedirs(os.path.join(TOP, "build"), exist_ok=True)
    with open(os.path.join(TOP, "build/.soak-build.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["nice", "-n", "10", os.path.join(TOP, "scripts/build"), "release"],
                           stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        die("build failed")


def main():
    a = parse_args(sys.argv[1:])
    if a.recount:
        recount(a)
        return
    if os.geteuid() != 0:
        die("needs root (raw sockets, a TUN device, a private network namespace)")
    if not os.environ.get("RP_IN_NETNS"):
        if not a.no_build:
            build()
        for b in (RP, FLEETSIM):
            if not os.access(b, os.X_OK):
                die(f"{b} is missing after the build")
        if not shutil.which("victoria-metrics"):
            die("victoria-metrics is not installed (Debian: victoria-metrics)")
        os.makedirs(os.path.join(TOP, "bench/results"), exist_ok=True)
        env = dict(os.environ, RP_IN_NETNS="1")
        os.execvpe("unshare", ["unshare", "-n", "--", sys.executable, ENTRY] + sys.argv[1:],
                   env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    inner(a)
