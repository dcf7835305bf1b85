"""Where ringprobe writes, and what bench/fleet reads back.

Each sink: start() on a free loopback port, `url` and `db` for ringprobe's influxdb section
(the v1 API: /write?db=rp), last(field) = the field of the latest health_metrics point,
points() = every ping point as {ip: [(time_ms, success, rtt_ms or None)]} in time order,
device_info() = every device_info point as {ip: [point]}, `strings` = whether the string
fields can be compared ("checked") or why not, stop(). VictoriaMetrics stores a v1 point as
one series per field (ping_success, ping_rtt_ms); InfluxDB keeps the point.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from .common import NUMERIC_INFO, PRESENT, die, free_port, http_get, http_post, wait_http


class VictoriaMetrics:
    name = "VictoriaMetrics"
    args = []  # more flags (bench/soak: a longer graceful shutdown)

    def start(self, procs, work, port=None):
        """port: a restart on the port (and data directory) of an earlier start."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = "rp"
        cmd = ["victoria-metrics", f"-storageDataPath={work}/vm",
               f"-httpListenAddr=127.0.0.1:{self.port}", "-loggerLevel=ERROR",
               "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache"]
        cmd += self.args
        self.proc = procs.add(subprocess.Popen(cmd, stdout=open(f"{work}/vm.log", "a"),
                                               stderr=subprocess.STDOUT))
        wait_http(self.proc, f"{self.url}/health", 200, "victoria-metrics", f"{work}/vm.log")

    def flush(self):
        http_get(f"{self.url}/internal/force_flush", 30)
        time.sleep(1)

    def export(self, match):
        url = f"{self.url}/api/v1/export?match[]={urllib.parse.quote(match)}"
        with urllib.request.urlopen(url, timeout=300) as r:
            for line in r:
                yield json.loads(line)

    def last(self, field):
        best = None
        for s in self.export(f"health_metrics_{field}"):
            for ts, v in zip(s["timestamps"], s["values"]):
                if best is None or ts > best[0]:
                    best = (ts, v)
        return None if best is None else best[1]

    def points(self):
        rtts, out = {}, {}
        for s in self.export("ping_rtt_ms"):
            rtts[s["metric"]["ip"]] = dict(zip(s["timestamps"], s["values"]))
        for s in self.export("ping_success"):
            ip = s["metric"]["ip"]
            rt = rtts.get(ip, {})
            out[ip] = [(ts, ok, rt.get(ts) if ok else None)
                       for ts, ok in sorted(zip(s["timestamps"], s["values"]))]
        return out

    # VictoriaMetrics (1.79.5 here) turns each field of a line-protocol point into a series
    # <measurement>_<field>; a string field becomes a series whose values are all 0: which
    # string fields a point had survives, what they said does not (tried on loopback: a
    # device_info point with hostname="sim-198-18-0-5" is device_info_hostname{ip=...} 0).
    strings = ("n/a: VictoriaMetrics keeps a string field only as a series of zeros; "
               "sysUpTime and which fields came are checked (--sink influx compares the "
               "strings)")

    def device_info(self):
        """{ip: [point]}, a point = {"time_ms": ms, field: value}; a string field's value is
        PRESENT (its text is lost)."""
        pts = {}
        for s in self.export('{__name__=~"device_info_.*"}'):
            m = s["metric"]
            field = m["__name__"][len("device_info_"):]
            per_ip = pts.setdefault(m.get("ip", ""), {})
            for ts, v in zip(s["timestamps"], s["values"]):
                per_ip.setdefault(ts, {"time_ms": ts})[field] = \
                    v if field in NUMERIC_INFO else PRESENT
        return {ip: [d[ts] for ts in sorted(d)] for ip, d in pts.items()}

    def stop(self, procs):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
            procs.done(self.proc)
        except subprocess.TimeoutExpired:
            pass


class Influx:
    """influxd 1.x (Debian's influxdb 1.6.7), configured as tests/writer/servers.c does."""
    name = "InfluxDB"

    def start(self, procs, work):
        self.port, rpc = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = "rp"
        d = f"{work}/influx"
        os.makedirs(d)
        with open(f"{d}/influxdb.conf", "w") as f:
            f.write(f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  max-values-per-tag = 0
  max-series-per-database = 0
  query-log-enabled = false
[retention]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
""")
        if not shutil.which("influxd"):
            die("influxd is not installed (Debian: influxdb)")
        self.proc = procs.add(subprocess.Popen(["influxd", "-config", f"{d}/influxdb.conf"],
                                               stdout=open(f"{work}/influxd.log", "w"),
                                               stderr=subprocess.STDOUT))
        wait_http(self.proc, f"{self.url}/ping", 204, "influxd", f"{work}/influxd.log")
        st, body = http_post(f"{self.url}/query", {"q": f'CREATE DATABASE "{self.db}"'})
        if st != 200 or b'"error"' in body:
            die(f"influxd: CREATE DATABASE failed: {st} {body[:200]!r}")

    def flush(self):
        pass  # a point is queryable once its /write returned

    def query(self, q):
        """Rows of a chunked /query, series by series: yields (tags, columns, values)."""
        form = urllib.parse.urlencode({"q": q, "db": self.db, "epoch": "ns",
                                       "chunked": "true", "chunk_size": "50000"}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=form, timeout=600) as r:
            for line in r:
                if not line.strip():
                    continue
                for res in json.loads(line).get("results", []):
                    if "error" in res:
                        die(f"influxd: {q}: {res['error']}")
                    for s in res.get("series", []):
                        yield s.get("tags", {}), s["columns"], s.get("values", [])

    def last(self, field):
        for _, cols, vals in self.query(f'SELECT last("{field}") FROM "health_metrics"'):
            if vals:
                return vals[0][cols.index("last")]
        return None

    strings = "checked"

    def device_info(self):
        """{ip: [point]}, a point = {"time_ms": ms, field: value} for every field it has."""
        out = {}
        for tags, cols, vals in self.query('SELECT * FROM "device_info" GROUP BY "ip"'):
            ti = cols.index("time")
            for v in vals:
                pt = {c: x for c, x in zip(cols, v) if x is not None and c != "time"}
                pt["time_ms"] = v[ti] // 1000000
                out.setdefault(tags.get("ip", ""), []).append(pt)
        for pts in out.values():
            pts.sort(key=lambda p: p["time_ms"])
        return out

    def points(self):
        out = {}
        for tags, cols, vals in self.query('SELECT "success", "rtt_ms" FROM "ping" GROUP BY "ip"'):
            ts_i, ok_i, rtt_i = cols.index("time"), cols.index("success"), cols.index("rtt_ms")
            out.setdefault(tags["ip"], []).extend(
                (v[ts_i] // 1000000, 1 if v[ok_i] else 0, v[rtt_i] if v[ok_i] else None)
                for v in vals)
        for pts in out.values():
            pts.sort()
        return out

    def stop(self, procs):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
            procs.done(self.proc)
        except subprocess.TimeoutExpired:
            pass


class VMRemoteWrite(VictoriaMetrics):
    """VictoriaMetrics fed by Prometheus remote write (/api/v1/write): ringprobe's
    prometheus_remote_write section instead of influxdb (procs.py). The metric names are
    the same as through its InfluxDB endpoint; string fields arrive as labels, so the
    device_info strings are compared."""
    name = "VictoriaMetrics (remote write)"
    remote_write = True
    strings = "checked"

    def write_url(self):
        return f"{self.url}/api/v1/write"

    def device_info(self):
        """{ip: [point]}, as Influx.device_info: the labels of device_info_snmp_uptime_s
        (or of device_info = 1 when the uptime is not known) are the string fields."""
        pts = {}
        strs = ("hostname", "snmp_description", "snmp_object_id", "snmp_location",
                "snmp_contact")
        for s in self.export('{__name__=~"device_info|device_info_.*"}'):
            m = s["metric"]
            per_ip = pts.setdefault(m.get("ip", ""), {})
            for ts, v in zip(s["timestamps"], s["values"]):
                pt = per_ip.setdefault(ts, {"time_ms": ts})
                pt.update({k: m[k] for k in strs if k in m})
                if m["__name__"] == "device_info_snmp_uptime_s":
                    pt["snmp_uptime_s"] = v
        return {ip: [d[ts] for ts in sorted(d)] for ip, d in pts.items()}


class Prometheus:
    """Prometheus (Debian's 2.42) with its remote-write receiver, no scrape job, and an
    out-of-order window (docs/prometheus.md: requests in flight may land out of order),
    as tests/support/servers.c starts it. Read back with PromQL range selectors over the
    whole run: the same series names as VictoriaMetrics, samples at millisecond times."""
    name = "Prometheus (remote write)"
    remote_write = True
    strings = "checked"

    def start(self, procs, work):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.t0 = time.time()
        with open(f"{work}/prometheus.yml", "w") as f:
            f.write("global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n"
                    "    out_of_order_time_window: 1h\n")
        cmd = ["prometheus", f"--config.file={work}/prometheus.yml",
               f"--storage.tsdb.path={work}/prom", f"--web.listen-address=127.0.0.1:{self.port}",
               "--web.enable-remote-write-receiver", "--log.level=warn"]
        if not shutil.which("prometheus"):
            die("prometheus is not installed (Debian: prometheus)")
        self.proc = procs.add(subprocess.Popen(cmd, stdout=open(f"{work}/prom.log", "a"),
                                               stderr=subprocess.STDOUT))
        wait_http(self.proc, f"{self.url}/-/ready", 200, "prometheus", f"{work}/prom.log")

    def write_url(self):
        return f"{self.url}/api/v1/write"

    def flush(self):
        time.sleep(1)  # a sample is queryable once its request was answered

    def matrix(self, selector):
        """Every series matching selector over the run: [(labels, [(ms, value)])]."""
        win = int(time.time() - self.t0) + 120
        st, body = http_post(f"{self.url}/api/v1/query",
                             {"query": f"{selector}[{win}s]", "time": f"{time.time():.3f}"},
                             300)
        if st != 200:
            die(f"prometheus query {selector}: HTTP {st}: {body[:200]!r}")
        return [(r["metric"], [(int(round(float(t) * 1000)), float(v)) for t, v in r["values"]])
                for r in json.loads(body)["data"]["result"]]

    def last(self, field):
        best = None
        for _, vals in self.matrix(f"health_metrics_{field}"):
            for ts, v in vals:
                if best is None or ts > best[0]:
                    best = (ts, v)
        return None if best is None else best[1]

    def points(self):
        rtts, out = {}, {}
        for m, vals in self.matrix("ping_rtt_ms"):
            rtts[m["ip"]] = dict(vals)
        for m, vals in self.matrix("ping_success"):
            rt = rtts.get(m["ip"], {})
            out[m["ip"]] = [(ts, int(ok), rt.get(ts) if ok else None) for ts, ok in sorted(vals)]
        return out

    def device_info(self):
        pts = {}
        strs = ("hostname", "snmp_description", "snmp_object_id", "snmp_location",
                "snmp_contact")
        for m, vals in self.matrix('{__name__=~"device_info|device_info_.*"}'):
            per_ip = pts.setdefault(m.get("ip", ""), {})
            for ts, v in vals:
                pt = per_ip.setdefault(ts, {"time_ms": ts})
                pt.update({k: m[k] for k in strs if k in m})
                if m["__name__"] == "device_info_snmp_uptime_s":
                    pt["snmp_uptime_s"] = v
        return {ip: [d[ts] for ts in sorted(d)] for ip, d in pts.items()}

    def stop(self, procs):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
            procs.done(self.proc)
        except subprocess.TimeoutExpired:
            pass


SINKS = {"vm": VictoriaMetrics, "influx": Influx, "vm-remote-write": VMRemoteWrite,
         "prometheus": Prometheus}
