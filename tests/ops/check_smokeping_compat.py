#!/usr/bin/env python3
"""ringprobe's per-device series (prometheus.per_device) against Debian's
smokeping_prober 0.6.1 and a real Prometheus.

In a private network namespace (`unshare -n`, loopback up; root only, skipped
visibly otherwise) the script starts, on 127.0.0.1:
  - a sink that takes ringprobe's InfluxDB writes and keeps every `ping` point (the
    run's truth: each echo's RTT, or its failure);
  - prometheus-smokeping-prober (privileged ICMP) on 127.0.0.2, .3 and .4;
  - `ringprobe run` on the same three, every second, with prometheus.per_device and
    prometheus.on_metrics;
  - prometheus, scraping ringprobe's /probe-metrics every second.
Then:
  1. the two expositions have the same smokeping_* families with the same types, the
     same label names, the same host/ip pairs and the same bucket `le` values, but
     for exactly the two families smokeping_prober 0.7 added (NEWER: its names, types,
     HELP texts and label sets, from its collector.go), which 0.6.1 lacks;
  2. `promtool check metrics` accepts /probe-metrics and /metrics (with on_metrics);
     /metrics holds ringprobe's own families and the per-device ones; gzip is served
     when asked and unpacks to a page of the same shape;
  3. after about 70 s, PromQL over what Prometheus scraped: rate(smokeping_requests_total
     [1m]) is each device's echoes per second in the sink's truth (1/s, within 10%), and
     histogram_quantile(0.5, rate(..._bucket[1m])) lands in the bucket that holds the
     median of the truth's RTTs over the same minute (or the next one: the quantile
     interpolates inside a bucket, the window edges differ by a scrape).
Packets go only to 127.0.0.2..4, inside the namespace. Prints TAP.

Usage: check_smokeping_compat.py RINGPROBE_BINARY
Environment: RP_COMPAT_KEEP=1 keeps the temporary directory (logs, configs).
"""
import ctypes
import gzip
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

exe = os.path.abspath(sys.argv[1])
NETNS_ENV = "RP_COMPAT_IN_NETNS"
TARGETS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
RUN_S = 75
# Finer than the default near loopback's RTTs (20-60 us), so the quantile check has
# buckets to tell apart; both probers get them (smokeping_prober's --buckets,
# ringprobe's prometheus.buckets). The default layouts are compared from --help.
BUCKETS = "1e-05,2e-05,2.5e-05,3e-05,3.5e-05,4e-05,5e-05,7e-05,0.0001,0.0002,0.0005,0.001,0.01,0.1,1"
results = []
# smokeping_prober >= 0.7's families that Debian's 0.6.1 lacks: type, HELP (its
# collector.go) and the label names of their samples.
NEWER = {
    "smokeping_receive_errors_total": (
        "counter", "The number of errors when Pinger attempts to receive packets.", ()),
    "smokeping_send_errors_total": (
        "counter", "The number of errors when Pinger attempts to send packets.",
        ("host", "ip")),
}


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail, False))
    return bool(cond)


def skip(name, why):
    results.append((name, True, why, True))


def finish():
    print("1..%d" % len(results))
    failed = 0
    for i, (name, ok, detail, skipped) in enumerate(results, 1):
        if skipped:
            print("ok %d - %s # SKIP %s" % (i, name, detail))
        elif ok:
            print("ok %d - %s" % (i, name))
        else:
            failed += 1
            print("not ok %d - %s" % (i, name))
            for line in str(detail).splitlines()[:40]:
                print("#   " + line)
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, log):
    with open(log, "ab") as fh:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh,
                                preexec_fn=die_with_parent)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError as e:
        return str(e)


def stop(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fetch(url, gz=False, timeout=10):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gz else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read()


def wait_url(url, secs, proc, log, name):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            if fetch(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError("%s did not come up: %s" % (name, tail(log)))


# ------------------------------------------------------------------ the sink (truth)

class Sink(http.server.BaseHTTPRequestHandler):
    points = []  # (time_s, ip, rtt_s or None)
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        got = []
        for line in body.decode(errors="replace").splitlines():
            m = re.match(r"^ping,(\S+) (\S+) (\d+)$", line)
            if not m:
                continue
            tags = dict(kv.split("=", 1) for kv in m.group(1).split(","))
            fields = dict(kv.split("=", 1) for kv in m.group(2).split(","))
            rtt = float(fields["rtt_ms"]) / 1000 if "rtt_ms" in fields else None
            got.append((int(m.group(3)) / 1e9, tags.get("ip"), rtt))
        with Sink.lock:
            Sink.points += got
        self.send_response(204)
        self.end_headers()


# ------------------------------------------------------------ the exposition format

def parse(text):
    """{family: type}, [(name, {labels}, value)]"""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line and not line.startswith("#"):
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
            if not m:
                raise ValueError("bad line: %r" % line)
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                     m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def shape(text):
    """What must match between the two: families and types, label names per sample
    name, host/ip pairs, and the `le` values of one host's histogram."""
    types, samples = parse(text)
    fams = {k: v for k, v in types.items() if k.startswith("smokeping_")
            and not k.startswith("smokeping_prober_")}
    names, hosts, les = {}, set(), {}
    for name, labels, _ in samples:
        if not name.startswith("smokeping_") or name.startswith("smokeping_prober_"):
            continue
        names.setdefault(name, set()).add(tuple(sorted(labels)))
        if "host" in labels:
            hosts.add((labels.get("host"), labels.get("ip")))
        if name.endswith("_bucket"):
            les.setdefault(labels.get("host"), []).append(labels["le"])
    return fams, names, hosts, les


def promtool(text, name):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                       capture_output=True)
    check("promtool check metrics accepts %s (no lint)" % name,
          r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))


# ------------------------------------------------------------------------ the run

def default_buckets():
    """The --buckets default smokeping_prober's --help shows, and ringprobe's
    --prometheus-buckets default: the two layouts must be one."""
    sp = subprocess.run(["prometheus-smokeping-prober", "--help"], capture_output=True,
                        text=True).stderr
    rp = subprocess.run([exe, "run", "--help"], capture_output=True, text=True).stdout
    a = re.search(r'--buckets="([^"]+)"', sp)
    b = re.search(r"--prometheus-buckets TEXT.*\(default ([^)]+)\)", rp)
    check("default buckets equal smokeping_prober's --buckets default (%s)"
          % (a.group(1) if a else None), a and b and a.group(1) == b.group(1),
          "smokeping_prober: %s\nringprobe: %s" % (a and a.group(1), b and b.group(1)))


def live():
    tmp = tempfile.mkdtemp(prefix="rp-compat-")
    sp = rp = prom = httpd = None
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        sink_port = free_port()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", sink_port), Sink)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

        sp_port, health = free_port(), free_port()
        spconf = os.path.join(tmp, "smokeping_prober.yml")
        with open(spconf, "w") as fh:
            fh.write("targets: []\n")
        sp_log = os.path.join(tmp, "smokeping_prober.log")
        sp = spawn(["prometheus-smokeping-prober", "--config.file=" + spconf, "--privileged",
                    "--buckets=" + BUCKETS,
                    "--web.listen-address=127.0.0.1:%d" % sp_port] + TARGETS, sp_log)

        conf = os.path.join(tmp, "ringprobe.yml")
        with open(conf, "w") as fh:
            fh.write("""# written by tests/ops/check_smokeping_compat.py
allow_loopback: true
devices: [%s]
ping_interval: 1s
ping_timeout: 500ms
realtime_priority: 0
health_check_port: %d
health_report_interval: 1s
snmp:
  enabled: false
influxdb:
  url: http://127.0.0.1:%d
  database: ringprobe
  flush_interval: 250ms
  gzip: false
spool:
  max_bytes: 0
prometheus:
  per_device: true
  on_metrics: true
  buckets: "%s"
""" % (", ".join(TARGETS), health, sink_port, BUCKETS))
        rp_log = os.path.join(tmp, "ringprobe.log")
        rp = spawn([exe, "run", "--config", conf, "--run-for", "%ds" % (RUN_S + 20)], rp_log)
        base = "http://127.0.0.1:%d" % health
        wait_url(base + "/health/live", 20, rp, rp_log, "ringprobe")
        wait_url("http://127.0.0.1:%d/metrics" % sp_port, 20, sp, sp_log, "smokeping_prober")

        pdir = os.path.join(tmp, "prometheus")
        os.mkdir(pdir)
        pport = free_port()
        pconf = os.path.join(pdir, "prometheus.yml")
        with open(pconf, "w") as fh:
            fh.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                     "scrape_configs:\n  - job_name: ringprobe\n"
                     "    metrics_path: /probe-metrics\n"
                     "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % health)
        plog = os.path.join(pdir, "prometheus.log")
        prom = spawn(["prometheus", "--config.file=" + pconf,
                      "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                      "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"], plog)
        purl = "http://127.0.0.1:%d" % pport
        wait_url(purl + "/-/ready", 30, prom, plog, "prometheus")
        t_start = time.time()

        # 1. both expositions once every device has a reply in each
        time.sleep(4)
        _, _, spage = fetch("http://127.0.0.1:%d/metrics" % sp_port)
        st, hdr, rpage = fetch(base + "/probe-metrics")
        spage, rpage = spage.decode(), rpage.decode()
        check("/probe-metrics answers 200, text/plain; version=0.0.4",
              st == 200 and hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
              "%d %s" % (st, hdr))
        sf, sn, sh, sl = shape(spage)
        rf, rn, rh, rl = shape(rpage)
        # 0.7's two families, well-formed, then set aside: the rest must be 0.6.1's.
        helps = dict(re.findall(r"^# HELP (\S+) (.*)$", rpage, re.M))
        _, rsamples = parse(rpage)
        for fam, (typ, help_text, labels) in sorted(NEWER.items()):
            got = [(lb, v) for n, lb, v in rsamples if n == fam]
            check("%s: %s, smokeping_prober 0.7's HELP, labels %s" % (fam, typ, labels),
                  rf.get(fam) == typ and helps.get(fam) == help_text
                  and rn.get(fam) == {labels},
                  "type %s help %r labels %s" % (rf.get(fam), helps.get(fam), rn.get(fam)))
            want = 1 if not labels else len(TARGETS)
            check("%s: %d series, all 0 on loopback" % (fam, want),
                  len(got) == want and all(v == 0 for _, v in got), got)
            check("%s is not in 0.6.1's page" % fam, fam not in sf, sorted(sf))
        rf = {k: v for k, v in rf.items() if k not in NEWER}
        rn = {k: v for k, v in rn.items() if k not in NEWER}
        check("families and types equal smokeping_prober's: %s" % sorted(sf.items()),
              sf == rf and len(sf) == 4, "smokeping_prober %s\nringprobe %s" % (sf, rf))
        check("label names per sample name equal (%d names)" % len(sn), sn == rn,
              "smokeping_prober %s\nringprobe %s" % (sn, rn))
        check("host/ip pairs equal: %s" % sorted(sh), sh == rh and len(sh) == len(TARGETS),
              "smokeping_prober %s\nringprobe %s" % (sh, rh))
        check("bucket le values equal (%d per host)" % len(sl.get(TARGETS[0], [])),
              all(sl.get(t) == rl.get(t) for t in TARGETS)
              and len(rl.get(TARGETS[0], [])) == BUCKETS.count(",") + 2,
              "smokeping_prober %s\nringprobe %s" % (sl.get(TARGETS[0]), rl.get(TARGETS[0])))

        # 2. promtool, /metrics with on_metrics, gzip
        promtool(rpage, "/probe-metrics")
        _, _, mpage = fetch(base + "/metrics")
        mpage = mpage.decode()
        promtool(mpage, "/metrics with prometheus.on_metrics")
        mt, _ = parse(mpage)
        check("/metrics holds ringprobe's own families and the per-device ones",
              "ringprobe_probes_sent_total" in mt and "smokeping_requests_total" in mt,
              sorted(mt))
        st, hdr, zpage = fetch(base + "/probe-metrics", gz=True)
        ok = st == 200 and hdr.get("Content-Encoding") == "gzip"
        try:
            unz = gzip.decompress(zpage).decode()
        except (OSError, EOFError) as e:
            ok, unz = False, repr(e)
        check("gzip when asked (%d bytes for %d plain)" % (len(zpage), len(rpage)),
              ok and shape(unz)[:3] == shape(rpage)[:3], "%s\n%s" % (hdr, unz[:500]))

        # 3. PromQL over the scraped series against the truth
        left = RUN_S - (time.time() - t_start)
        if left > 0:
            time.sleep(left)
        now = time.time()
        alive = rp.poll() is None
        check("ringprobe ran throughout", alive, tail(rp_log))
        with Sink.lock:
            pts = list(Sink.points)

        def q(expr):
            url = purl + "/api/v1/query?" + urllib.parse.urlencode({"query": expr,
                                                                    "time": "%.3f" % now})
            with urllib.request.urlopen(url, timeout=20) as r:
                d = json.load(r)
            return {s["metric"].get("host"): float(s["value"][1])
                    for s in d.get("data", {}).get("result", [])}

        rates = q("rate(smokeping_requests_total[1m])")
        bounds = [float(x) for x in rl[TARGETS[0]] if x != "+Inf"]
        med = q("histogram_quantile(0.5, rate(smokeping_response_duration_seconds_bucket[1m]))")
        for t in TARGETS:
            mine = [p for p in pts if p[1] == t and now - 60 <= p[0] <= now]
            truth = len(mine) / 60.0
            r = rates.get(t)
            check("rate(smokeping_requests_total{host=%s}[1m]) = %s, truth %.3f/s" % (t, r, truth),
                  r is not None and abs(r - truth) <= 0.1 * truth and abs(r - 1.0) <= 0.1,
                  rates)
            rtts = sorted(p[2] for p in mine if p[2] is not None)
            m = med.get(t)
            if not rtts:
                check("histogram_quantile for %s" % t, False, "no replies in the truth")
                continue
            tm = rtts[len(rtts) // 2]

            def bucket(v):
                return next((i for i, b in enumerate(bounds) if v <= b), len(bounds))
            # the truth's own histogram_quantile: the same buckets, the same linear
            # interpolation inside the one the median falls in
            counts = [0] * (len(bounds) + 1)
            for v in rtts:
                counts[bucket(v)] += 1
            rank, cum, tq = 0.5 * len(rtts), 0, None
            for i, c in enumerate(counts):
                if cum + c >= rank and i < len(bounds):
                    lo = bounds[i - 1] if i else 0.0
                    tq = lo + (bounds[i] - lo) * (rank - cum) / c
                    break
                cum += c
            check("histogram_quantile(0.5) for %s = %s s (bucket %s); the truth's: %s s "
                  "(bucket %d, median %.6f s)" % (t, m, None if m is None else bucket(m), tq,
                                                  bucket(tm), tm),
                  m is not None and tq is not None and abs(bucket(m) - bucket(tm)) <= 1
                  and abs(m - tq) <= 0.25 * tq, med)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as e:
        check("live run", False, repr(e))
    finally:
        for p in (prom, sp, rp):
            stop(p)
        if httpd:
            httpd.shutdown()
        if os.environ.get("RP_COMPAT_KEEP"):
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.environ.get(NETNS_ENV) == "1":
        default_buckets()
        live()
        finish()
    if os.geteuid() != 0:
        skip("ringprobe against smokeping_prober and prometheus", "needs root (unshare -n, raw ICMP)")
        finish()
    missing = [b for b in ("unshare", "ip", "prometheus", "promtool", "prometheus-smokeping-prober")
               if not shutil.which(b)]
    if missing:
        skip("ringprobe against smokeping_prober and prometheus",
             "needs %s (scripts/packages.txt)" % ", ".join(missing))
        finish()
    env = dict(os.environ, **{NETNS_ENV: "1"})
    try:
        r = subprocess.run(["unshare", "-n", "--", sys.executable, os.path.abspath(__file__), exe],
                           env=env, timeout=RUN_S + 90)
    except subprocess.TimeoutExpired:
        check("live run in a private network namespace", False, "no result in time")
        finish()
    sys.exit(r.returncode)


main()
