#!/usr/bin/env python3
"""The Kubernetes examples in docs/examples/k8s/ and the image recipe in
packaging/docker/Dockerfile, checked without a cluster or a container engine: every
YAML document parses, the StatefulSet holds CAP_NET_RAW only with a read-only root,
its probes and port are the daemon's health server, its volume claim holds the spool
of the ConfigMap's config, and that config passes `ringprobe check-config` as pod
ringprobe-1 would read it (in a UTS namespace named ringprobe-1; root only, skipped
otherwise). Prints TAP for scripts/test.

Usage: check_k8s_examples.py SOURCE_ROOT RINGPROBE_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

src, exe = sys.argv[1], sys.argv[2]
k8s = os.path.join(src, "docs", "examples", "k8s")
results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail, False))


def skip(name, why):
    results.append((name, True, why, True))


docs = {}
for f in sorted(os.listdir(k8s)):
    if not f.endswith((".yaml", ".yml")):
        continue
    try:
        with open(os.path.join(k8s, f)) as fh:
            loaded = [d for d in yaml.safe_load_all(fh) if d is not None]
        check("%s parses (%d documents)" % (f, len(loaded)), loaded)
    except yaml.YAMLError as e:
        check("%s parses" % f, False, str(e))
        loaded = []
    for d in loaded:
        ok = isinstance(d, dict) and "apiVersion" in d and "kind" in d and "metadata" in d
        check("%s: %s has apiVersion, kind, metadata" % (f, d.get("kind", "?")), ok)
        if ok:
            docs[d["kind"]] = d

sts, cm, svc = docs.get("StatefulSet"), docs.get("ConfigMap"), docs.get("Service")
check("a StatefulSet, a ConfigMap and a Service", sts and cm and svc, sorted(docs))
if not (sts and cm and svc):
    print("1..%d" % len(results))
    for i, (n, ok, d, s) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, n))
    sys.exit(1)

conf_text = cm["data"]["config.yml"]
conf = yaml.safe_load(conf_text)
spec = sts["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
sc = c.get("securityContext", {})
caps = sc.get("capabilities", {})

# Privileges: raw ICMP with one capability, nothing else.
check("capabilities drop ALL", caps.get("drop") == ["ALL"], caps)
check("capabilities add NET_RAW only", caps.get("add") == ["NET_RAW"], caps)
check("readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True, sc)
check("allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False, sc)
check("not privileged", not sc.get("privileged", False), sc)
check("icmp_mode raw (what NET_RAW is for)", conf.get("icmp_mode") == "raw", conf.get("icmp_mode"))

# Health: the probes reach the daemon's health server.
port = conf.get("health_check_port", 8080)
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
check("containerPort health = health_check_port %d" % port, ports.get("health") == port, ports)
check("health_listen is not loopback", conf.get("health_listen") not in (None, "127.0.0.1", "::1"),
      conf.get("health_listen"))


def probe_ok(kind, path):
    p = c.get(kind, {}).get("httpGet", {})
    return p.get("path") == path and p.get("port") in ("health", port)


check("livenessProbe GET /health/live on the health port", probe_ok("livenessProbe", "/health/live"),
      c.get("livenessProbe"))
check("readinessProbe GET /health/ready on the health port",
      probe_ok("readinessProbe", "/health/ready"), c.get("readinessProbe"))
svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
check("headless Service named by serviceName, port health",
      svc["spec"].get("clusterIP") == "None" and spec.get("serviceName") == svc["metadata"]["name"]
      and svc_ports.get("health", {}).get("port") == port, svc["spec"])
check("Service selects the pods", svc["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items())

# Sharding: N in the ConfigMap = replicas.
m = re.fullmatch(r"auto/(\d+)", str(conf.get("shard", "")))
check("shard: auto/N with N = replicas (%s)" % spec.get("replicas"),
      m and int(m.group(1)) == spec.get("replicas"), conf.get("shard"))

# Storage: the spool on the volume claim; the config from the ConfigMap.
mounts = {v["name"]: v["mountPath"] for v in c.get("volumeMounts", [])}
claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
spool = conf.get("spool", {}).get("dir", "/var/lib/ringprobe/spool")
check("spool.dir %s lies on the volume claim's mount" % spool,
      any(n in claims and os.path.commonpath([spool, mp]) == mp for n, mp in mounts.items()),
      (mounts, claims))
vols = {v["name"]: v for v in pod.get("volumes", [])}
cfg_path = None
for i, a in enumerate(c.get("args", []) + c.get("command", [])):
    if a == "--config":
        cfg_path = (c.get("args", []) + c.get("command", []))[i + 1]
cfg_mount = [n for n, mp in mounts.items() if cfg_path and os.path.dirname(cfg_path) == mp]
check("--config %s is the ConfigMap's config.yml" % cfg_path,
      cfg_mount and vols[cfg_mount[0]].get("configMap", {}).get("name") == cm["metadata"]["name"],
      (cfg_path, mounts))
grace = pod.get("terminationGracePeriodSeconds", 30)
check("terminationGracePeriodSeconds %d > shutdown_timeout" % grace, grace > 10)

# The config passes check-config as pod ringprobe-1 reads it.
if os.geteuid() != 0 or not shutil.which("unshare"):
    skip("ringprobe check-config on the ConfigMap's config.yml", "needs root (a UTS namespace)")
else:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config.yml")
        with open(path, "w") as fh:
            fh.write(conf_text)
        env = dict(os.environ, INFLUX_TOKEN="t0ken", SNMP_COMMUNITY="c0mm")
        r = subprocess.run(["unshare", "--uts", "sh", "-c",
                            'hostname ringprobe-1 && exec "$0" check-config --config "$1"',
                            exe, path], env=env, capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        check("ringprobe check-config on the ConfigMap's config.yml (as ringprobe-1)",
              r.returncode == 0 and 'shard: "auto/%d"  # 1/%d from the host name' % (
                  spec["replicas"], spec["replicas"]) in out, out)

# The image recipe: Debian 12 slim, the package, the package test's checks.
with open(os.path.join(src, "packaging", "docker", "Dockerfile")) as fh:
    df = fh.read()
steps = [l.strip().rstrip("\\").strip().rstrip(";") for l in df.splitlines() if not l.lstrip().startswith("#")]
check("Dockerfile FROM debian:bookworm-slim", "FROM debian:bookworm-slim" in steps)
check("Dockerfile copies ringprobe_*.deb", any(s.startswith("COPY ringprobe_*.deb") for s in steps))
check("Dockerfile apt-get installs the .deb",
      any(re.match(r"apt-get install .*(\./|/)\S*ringprobe_\*\.deb", s) for s in steps), steps)
check("Dockerfile runs ringprobe --version", "ringprobe --version" in steps)
check("Dockerfile runs check-config on the packaged config",
      any(s.startswith("ringprobe check-config --config /etc/ringprobe/config.yml") for s in steps))
check("Dockerfile's command is run --config %s" % cfg_path,
      'CMD ["run", "--config", "%s"]' % cfg_path in steps and 'ENTRYPOINT ["ringprobe"]' in steps)
check("StatefulSet's args match the image's ENTRYPOINT", c.get("args", [])[:1] == ["run"] and "command" not in c)

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
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
sys.exit(1 if failed else 0)
