#!/usr/bin/env python3
"""docs/grafana/ringprobe-influxdb.json and ringprobe-prometheus.json checked without
Grafana (not in Debian).

1. The JSON: it imports (__inputs names the two InfluxDB data sources, every panel
   uses the one its measurement is in: health_metrics goes to influxdb.health_bucket
   with the v2 API), every panel has a unique id and a gridPos inside the 24-column
   grid with no two panels overlapping, every target is a raw InfluxQL query with a
   unique refId.
2. Every query returns data (root only, skipped visibly otherwise): the script runs
   itself again in a private network namespace (`unshare -n`, loopback up, so every
   packet stays in it), where it starts a real influxd (Debian package influxdb, 1.x)
   and one snmpd per SNMP device on loopback, drops every echo request to one address
   and half of those to another (nftables), and runs the built daemon for a short
   while: 6 static devices (4 of them SNMP agents, 1 lossy, 1 down and so suspended)
   and a swept /29. Then it expands each template variable's query and each panel
   target as Grafana would ($timeFilter, $__interval, $ip, $host) and sends it to
   influxd's /query: a query that errors, returns no series, or has a column that is
   null throughout, fails, naming the panel.
3. The Prometheus dashboard the same way: its structure (one Prometheus data source,
   every target a PromQL expr filtered by $instance), then a real Prometheus (Debian
   package) started in the namespace scrapes the daemon's /metrics every second during
   the run, and every panel's expr, as Grafana sends it ($instance, $__rate_interval),
   must return a series with a value over the run (/api/v1/query_range).

Prints TAP for scripts/test. Packets go only to 127.0.0.0/8, inside the namespace.

Usage: check_grafana_dashboard.py SOURCE_ROOT RINGPROBE_BINARY
Environment: RP_GRAFANA_KEEP=1 keeps the temporary directory (influxd's data, the
logs) and prints its path.
"""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

src, exe = sys.argv[1], os.path.abspath(sys.argv[2])
dash_path = os.path.join(src, "docs", "grafana", "ringprobe-influxdb.json")
prom_path = os.path.join(src, "docs", "grafana", "ringprobe-prometheus.json")
NETNS_ENV = "RP_GRAFANA_IN_NETNS"
results = []


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
            for line in str(detail).splitlines()[:30]:
                print("#   " + line)
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- the JSON itself

def all_panels(d):
    """Every panel, the ones inside collapsed rows included, in order."""
    for p in d.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def targets(d):
    """(panel title, refId, query) for every target of every panel."""
    for p in all_panels(d):
        for t in p.get("targets", []):
            yield p.get("title", "?"), t.get("refId", "?"), t.get("query", "")


def check_grid(prefix, panels):
    """Unique integer ids; each gridPos inside the 24-column grid; no two overlapping.
    Returns the panels that are not rows."""
    ids = [p.get("id") for p in panels]
    check(prefix + "panel ids are unique integers",
          all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), ids)
    boxes = []
    for p in panels:
        name = "%spanel %s %r" % (prefix, p.get("id"), p.get("title"))
        g = p.get("gridPos", {})
        ok = all(isinstance(g.get(k), int) for k in "xywh") and g["w"] > 0 and g["h"] > 0 \
            and g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["y"] >= 0
        check(name + ": gridPos x, y, w, h inside 24 columns", ok, g)
        if ok:
            boxes.append((name, g))
    overlaps = [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[1]["x"] < b[1]["x"] + b[1]["w"] and b[1]["x"] < a[1]["x"] + a[1]["w"]
                and a[1]["y"] < b[1]["y"] + b[1]["h"] and b[1]["y"] < a[1]["y"] + a[1]["h"]]
    check(prefix + "no two panels overlap", not overlaps, overlaps)
    return [p for p in panels if p.get("type") != "row"]


def check_structure(d):
    inputs = d.get("__inputs", [])
    for name in ("DS_INFLUXDB", "DS_INFLUXDB_HEALTH"):
        check("__inputs names %s, an InfluxDB data source" % name,
              any(i.get("name") == name and i.get("type") == "datasource"
                  and i.get("pluginId") == "influxdb" for i in inputs), inputs)
    check("__requires names grafana and the influxdb data source",
          {"grafana", "influxdb"} <= {r.get("id") for r in d.get("__requires", [])},
          d.get("__requires"))
    check("schemaVersion >= 36 (%s)" % d.get("schemaVersion"),
          isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 36)
    check("title and uid set", d.get("title") and d.get("uid"), (d.get("title"), d.get("uid")))
    # health_metrics goes to influxdb.health_bucket with the v2 API: its own data source
    ds = {"type": "influxdb", "uid": "${DS_INFLUXDB}"}
    hds = {"type": "influxdb", "uid": "${DS_INFLUXDB_HEALTH}"}
    panels = list(all_panels(d))
    check("has panels (%d)" % len(panels), len(panels) >= 10)
    for p in check_grid("", panels):
        name = "panel %s %r" % (p.get("id"), p.get("title"))
        ts = p.get("targets", [])
        health = any("health_metrics" in t.get("query", "") for t in ts)
        want = hds if health else ds
        check(name + ": datasource %s" % want["uid"], p.get("datasource") == want,
              p.get("datasource"))
        check(name + ": health_metrics in every query or in none",
              all(("health_metrics" in t.get("query", "")) == health for t in ts))
        refs = [t.get("refId") for t in ts]
        check(name + ": %d raw InfluxQL targets with unique refIds, on the panel's data source"
              % len(ts), ts and len(refs) == len(set(refs)) and all(
                  t.get("rawQuery") is True and t.get("query", "").strip()
                  and t.get("datasource") == want for t in ts), ts)
        check(name + ": every query has $timeFilter",
              all("$timeFilter" in t.get("query", "") for t in ts))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            want = hds if "health_metrics" in str(v.get("query")) else ds
            check("variable $%s: query on %s" % (v.get("name"), want["uid"]),
                  v.get("datasource") == want and v.get("query"), v)


def check_prom_structure(d):
    inputs = d.get("__inputs", [])
    check("prometheus: __inputs names DS_PROMETHEUS, a Prometheus data source",
          any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource"
              and i.get("pluginId") == "prometheus" for i in inputs), inputs)
    check("prometheus: __requires names grafana and the prometheus data source",
          {"grafana", "prometheus"} <= {r.get("id") for r in d.get("__requires", [])},
          d.get("__requires"))
    check("prometheus: title and uid set, uid not the InfluxDB one's",
          d.get("title") and d.get("uid") and d.get("uid") != "ringprobe-influxdb",
          (d.get("title"), d.get("uid")))
    ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    panels = list(all_panels(d))
    check("prometheus: has panels (%d)" % len(panels), len(panels) >= 10)
    for p in check_grid("prometheus: ", panels):
        name = "prometheus: panel %s %r" % (p.get("id"), p.get("title"))
        ts = p.get("targets", [])
        refs = [t.get("refId") for t in ts]
        check(name + ": %d PromQL targets with unique refIds on DS_PROMETHEUS, each "
              "filtered by $instance" % len(ts),
              ts and p.get("datasource") == ds and len(refs) == len(set(refs)) and all(
                  t.get("datasource") == ds and t.get("expr", "").strip()
                  and 'instance=~"$instance"' in t["expr"] for t in ts), ts)


# ---------------------------------------------------------------- the live check

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    # a child that outlives the test would keep the namespace's servers running
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, log, env=None):
    with open(log, "ab") as fh:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, env=env,
                                preexec_fn=die_with_parent)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError as e:
        return str(e)


class Server:
    """A server process the live check starts: waits for it, stops it."""

    def wait_ready(self, url, status, secs, name):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == status:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("%s did not start: %s" % (name, tail(self.log)))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Influx(Server):
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "influxd")
        os.mkdir(self.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(self.dir, "influxd.log")
        conf = os.path.join(self.dir, "influxdb.conf")
        # as tests/support/servers.c configures it: nothing but the HTTP API on loopback
        with open(conf, "w") as fh:
            fh.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
                     '[meta]\n  dir = "%s/meta"\n'
                     '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                     '  query-log-enabled = false\n'
                     '[retention]\n  enabled = false\n[monitor]\n  store-enabled = false\n'
                     '[continuous_queries]\n  enabled = false\n[logging]\n  level = "warn"\n'
                     '[http]\n  enabled = true\n  bind-address = "127.0.0.1:%d"\n'
                     '  auth-enabled = false\n  log-enabled = false\n'
                     % (free_port(), self.dir, self.dir, self.dir, self.port))
        self.proc = spawn([shutil.which("influxd"), "-config", conf], self.log)
        self.wait_ready(self.url + "/ping", 204, 20, "influxd")

    def query(self, q, db="ringprobe"):
        data = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"}).encode()
        try:
            with urllib.request.urlopen(self.url + "/query", data=data, timeout=20) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return {"error": "HTTP %d: %s" % (e.code, e.read().decode(errors="replace"))}


class Prometheus(Server):
    """Debian's prometheus on loopback, scraping one target every second."""

    def __init__(self, tmp, target):
        self.dir = os.path.join(tmp, "prometheus")
        os.mkdir(self.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(self.dir, "prometheus.log")
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as fh:
            fh.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                     "scrape_configs:\n  - job_name: ringprobe\n"
                     "    static_configs:\n      - targets: ['%s']\n" % target)
        self.proc = spawn([shutil.which("prometheus"), "--config.file=" + conf,
                           "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                           "--web.listen-address=127.0.0.1:%d" % self.port,
                           "--log.level=warn"], self.log)
        self.wait_ready(self.url + "/-/ready", 200, 30, "prometheus")

    def get(self, path, params):
        url = self.url + path + "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "error": "HTTP %d" % e.code}


def prom_expand(expr, instances):
    """The expr as Grafana's Prometheus data source sends it: a multi-value variable
    as a regex alternation of its escaped values, $__rate_interval as four scrapes."""
    # re.escape for the regex, then each backslash doubled inside PromQL's string
    rx = "|".join(re.escape(v).replace("\\", "\\\\") for v in instances) or ".*"
    return expr.replace("$__rate_interval", "4s").replace("$instance", "(" + rx + ")")


def prom_values(resp):
    """(ok, why): a matrix with at least one series holding a number (not NaN)."""
    if resp.get("status") != "success":
        return False, "%s: %s" % (resp.get("errorType", "error"), resp.get("error"))
    res = resp.get("data", {}).get("result", [])
    if not res:
        return False, "no series"
    for sr in res:
        for _, v in sr.get("values", []):
            if v not in ("NaN", "+Inf", "-Inf"):
                return True, "%d series" % len(res)
    return False, "%d series, every value NaN" % len(res)


def prom_live(pd, prom, start, end):
    resp = prom.get("/api/v1/series", {"match[]": "ringprobe_build_info", "start": start,
                                        "end": end})
    instances = sorted({s.get("instance") for s in resp.get("data", [])} - {None})
    check("prometheus: $instance -> %s" % instances, instances, resp)
    for title, ref, expr in prom_targets(pd):
        q = prom_expand(expr, instances)
        ok, why = prom_values(prom.get("/api/v1/query_range", {
            "query": q, "start": start, "end": end, "step": "1"}))
        check("prometheus: panel %r %s returns data (%s)" % (title, ref, why), ok, q)


def prom_targets(d):
    for p in all_panels(d):
        for t in p.get("targets", []):
            yield p.get("title", "?"), t.get("refId", "?"), t.get("expr", "")


SNMP_PORT = 16100  # the namespace's own loopback: nothing else listens there


def start_snmpd(tmp, addr, name):
    """One net-snmp agent on addr:SNMP_PORT serving its own sysName (as
    tests/snmp/snmpd_harness.h starts one: foreground, no SMUX, no MIB files)."""
    d = os.path.join(tmp, "snmpd-" + addr)
    os.makedirs(os.path.join(d, "persist"))
    with open(os.path.join(d, "snmpd.conf"), "w") as fh:
        fh.write("rocommunity public 127.0.0.0/8\ndontLogTCPWrappersConnects yes\n"
                 "sysName %s\nsysDescr ringprobe test agent at %s\n"
                 "sysLocation rack %s\nsysContact noc@example.net\n" % (name, addr, addr[-1]))
    bin = "/usr/sbin/snmpd" if os.access("/usr/sbin/snmpd", os.X_OK) else shutil.which("snmpd")
    env = {"SNMP_PERSISTENT_DIR": d + "/persist", "SNMPCONFPATH": d, "MIBS": "",
           "PATH": "/usr/sbin:/usr/bin:/bin"}
    return spawn([bin, "-f", "-C", "-c", d + "/snmpd.conf", "-Lf", d + "/snmpd.log", "-p",
                  d + "/snmpd.pid", "-m", "", "-I", "-smux", "udp:%s:%d" % (addr, SNMP_PORT)],
                 d + "/stderr", env=env)


STATIC = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"]
SNMP_AGENTS = {"127.0.0.2": "core-sw-1", "127.0.0.3": "core-sw-2", "127.0.0.4": "edge-rtr-1",
               "127.0.0.5": "ap-lobby"}
LOSSY, DOWN = "127.0.0.6", "127.0.0.7"
SWEPT = "127.0.1.0/29"
RUN_FOR_S = 16

# Drops in the namespace: every echo request to DOWN, half of those to LOSSY.
NFT_RULES = """
table ip rp_grafana {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr %s icmp type echo-request drop
    ip daddr %s icmp type echo-request numgen random mod 2 == 0 drop
  }
}
""" % (DOWN, LOSSY)


def daemon_config(tmp, influx, health_port):
    return """# written by tests/deploy/check_grafana_dashboard.py
allow_loopback: true
devices: [%s]
networks: [%s]
icmp_discovery_interval: 5s
ping_interval: 200ms
ping_timeout: 150ms
ping_max_consecutive_fails: 5
ping_backoff_duration: 1s
realtime_priority: 0
snmp_interval: 4s
snmp_rate_limit: 100
snmp:
  port: %d
  timeout: 300ms
  retries: 0
health_report_interval: 1s
health_check_port: %d
influxdb:
  url: %s
  database: ringprobe
  flush_interval: 250ms
spool:
  dir: %s/spool
shutdown_timeout: 5s
log:
  level: info
""" % (", ".join(STATIC), SWEPT, SNMP_PORT, health_port, influx.url, tmp)


def expand(query, variables):
    """The query as Grafana's InfluxDB data source sends it."""
    q = query.replace("$timeFilter", "time > now() - 1h")
    q = q.replace("$__interval_ms", "1000").replace("$__interval", "1s")
    q = q.replace("$interval", "1s")
    for name in sorted(variables, key=len, reverse=True):
        vals = variables[name]
        # a multi-value variable in a regex: Grafana escapes each value and joins with |
        rx = "(" + "|".join(re.escape(v) for v in vals) + ")"
        q = q.replace("${%s}" % name, rx).replace("$" + name, rx)
    return q


def has_values(resp):
    """(ok, why): the first statement answered without error, with series, and every
    column other than time holds a non-null value in one of them (a misspelt field
    among several leaves its column null)."""
    if "error" in resp:
        return False, resp["error"]
    res = resp.get("results", [{}])[0]
    if "error" in res:
        return False, res["error"]
    series = res.get("series", [])
    if not series:
        return False, "no series"
    empty = set()
    for s in series:
        cols = s.get("columns", [])
        empty |= {c for c in cols[1:] if c not in cols[:1]}
    for s in series:
        cols = s.get("columns", [])
        for row in s.get("values", []):
            empty -= {c for c, v in zip(cols, row) if v is not None}
    if empty:
        return False, "%d series, column %s always null" % (len(series), ", ".join(sorted(empty)))
    return True, "%d series" % len(series)


def live(d, pd):
    tmp = tempfile.mkdtemp(prefix="rp-grafana-")
    procs, influx, prom = [], None, None
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        r = subprocess.run(["nft", "-f", "-"], input=NFT_RULES, text=True, capture_output=True)
        if not check("nftables drops for %s (down) and %s (lossy)" % (DOWN, LOSSY),
                     r.returncode == 0, r.stderr):
            return
        influx = Influx(tmp)
        r = influx.query("CREATE DATABASE ringprobe", db="")
        if not check("influxd on %s, database ringprobe" % influx.url, "error" not in r and
                     "error" not in r.get("results", [{}])[0], r):
            return
        for addr, name in SNMP_AGENTS.items():
            procs.append(start_snmpd(tmp, addr, name))
        health_port = free_port()
        prom = Prometheus(tmp, "127.0.0.1:%d" % health_port)
        check("prometheus on %s scraping 127.0.0.1:%d" % (prom.url, health_port), True)
        conf = os.path.join(tmp, "ringprobe.yml")
        with open(conf, "w") as fh:
            fh.write(daemon_config(tmp, influx, health_port))
        log = os.path.join(tmp, "ringprobe.log")
        run_start = time.time()
        t0 = time.monotonic()
        p = spawn([exe, "run", "--config", conf, "--run-for", "%ds" % RUN_FOR_S], log)
        try:
            rc = p.wait(RUN_FOR_S + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        took = time.monotonic() - t0
        if not check("ringprobe run --run-for %ds exits 0 (%.1f s)" % (RUN_FOR_S, took),
                     rc == 0, "exit %s\n%s" % (rc, tail(log))):
            return
        dead = [a for a, pr in zip(SNMP_AGENTS, procs) if pr.poll() is not None]
        check("the snmpd agents ran throughout", not dead,
              "\n".join(tail(os.path.join(tmp, "snmpd-" + a, "stderr")) for a in dead))

        # Template variables first: their values stand in for $ip, $host in the panels.
        variables = {}
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                q = v["query"] if isinstance(v["query"], str) else v["query"].get("query", "")
                resp = influx.query(expand(q, variables))
                ok, why = has_values(resp)
                vals = []
                if ok:
                    for s in resp["results"][0]["series"]:
                        vals += [row[-1] for row in s["values"]]
                check("variable $%s: %s -> %s" % (v["name"], q, vals if ok else why), ok, resp)
                variables[v["name"]] = vals or ["none"]
        for title, ref, q in targets(d):
            eq = expand(q, variables)
            ok, why = has_values(influx.query(eq))
            check("panel %r %s returns data (%s)" % (title, ref, why), ok, eq)
        prom_live(pd, prom, run_start, time.time())
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        check("live run", False, repr(e))
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.terminate()
                pr.wait()
        if influx:
            influx.stop()
        if prom:
            prom.stop()
        if os.environ.get("RP_GRAFANA_KEEP"):
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    in_ns = os.environ.get(NETNS_ENV) == "1"
    if not in_ns:
        with open(dash_path) as fh:
            try:
                d = json.load(fh)
            except ValueError as e:
                check("ringprobe-influxdb.json parses", False, e)
                finish()
        check("ringprobe-influxdb.json parses", True)
        check_structure(d)
        with open(prom_path) as fh:
            try:
                pd = json.load(fh)
            except ValueError as e:
                check("ringprobe-prometheus.json parses", False, e)
                finish()
        check("ringprobe-prometheus.json parses", True)
        check_prom_structure(pd)
        if os.geteuid() != 0:
            skip("every panel's query returns data from a live run",
                 "needs root (unshare -n, raw ICMP)")
            finish()
        missing = [b for b in ("unshare", "ip", "nft", "influxd", "prometheus")
                   if not shutil.which(b)]
        if not (shutil.which("snmpd") or os.access("/usr/sbin/snmpd", os.X_OK)):
            missing.append("snmpd")
        if missing:
            skip("every panel's query returns data from a live run",
                 "needs %s (scripts/deps installs them)" % ", ".join(missing))
            finish()
        # The live part in a private network namespace: print its TAP lines after ours.
        env = dict(os.environ, **{NETNS_ENV: "1"})
        try:
            r = subprocess.run(["unshare", "-n", "--", sys.executable, os.path.abspath(__file__),
                                src, exe], env=env, capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
            check("live run in a private network namespace", False,
                  "no result within 150 s\n" + out)
            finish()
        lines = r.stdout.splitlines()
        body = [l for l in lines if not re.match(r"^1\.\.\d+$", l)]
        if not any(re.match(r"^(not )?ok ", l) for l in body):
            check("live run in a private network namespace", False,
                  "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr[-3000:]))
            finish()
        # renumber the namespace's results after ours
        for l in body:
            m = re.match(r"^(ok|not ok) \d+ - (.*)$", l)
            if m:
                name = m.group(2)
                sk = re.match(r"^(.*) # SKIP (.*)$", name)
                if sk:
                    skip(sk.group(1), sk.group(2))
                else:
                    results.append((name, m.group(1) == "ok", "", False))
            elif l.startswith("#") and results and not results[-1][1]:
                n, ok, det, s = results[-1]
                results[-1] = (n, ok, (det + "\n" if det else "") + l[1:].strip(), s)
            elif l.startswith("#"):
                print(l)
        finish()
    with open(dash_path) as fh, open(prom_path) as ph:
        live(json.load(fh), json.load(ph))
    finish()


main()
