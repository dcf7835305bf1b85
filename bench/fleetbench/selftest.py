"""bench/fleet --selftest: hand-made device_info points, as ringprobe writes them, into
VictoriaMetrics and influxd on loopback, read back and scored against a hand-made truth; and
with no point at all. Needs no root. Exit 0 when every check is as planned.
"""
import json
import shutil
import tempfile
import time

from .common import addr, die, http_post_raw
from .procs import Procs, snmp_settings
from .report import snmp_notes
from .scoring import snmp_figures
from .sinks import SINKS


def lp_str(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hand_made_truth(n):
    """n devices, every fourth without an agent; values no formula of fleetsim's gives (the
    scoring must take them from the file)."""
    devs = []
    for i in range(n):
        agent = i % 4 != 3
        devs.append({"addr": addr(i), "down": False, "flap": False, "dup": False,
                     "corrupt": False, "requests": 0, "replies": 0, "latency_sum_us": 0,
                     "snmp_agent": agent, "snmp_slow": False, "snmp_requests": 1,
                     "snmp_answered": int(agent),
                     "sys_name": f"sim-{addr(i).replace('.', '-')}",
                     "sys_descr": "Cisco NX-OS(tm) n9000, Software (n9000-dk9), Version "
                                  "9.3(8), RELEASE SOFTWARE Copyright (c) 2002-2021",
                     "sys_object_id": "1.3.6.1.4.1.9.12.3.1.3.1812",
                     "sys_location": f"selftest hall {i % 3}, shelf {i}",
                     "sys_contact": f"ops-{i % 2}@selftest.example",
                     "sys_uptime_start": (1000003 * (i + 1) * 7919) % (400 * 86400 * 100),
                     "flap_phase_ns": 0})
    totals = {"devices": n, "seed": 7, "requests": 0, "replies": 0, "drops": 0,
              "drops_loss": 0, "drops_down": 0, "drops_flap": 0, "drops_queue": 0,
              "latency_sum_us": 0, "down_devices": 0, "flap_devices": 0, "stray": 0,
              "max_late_us": 0, "elapsed_us": 30000000}
    options = {"base": "198.18.0.1", "latency": "fixed", "latency_a_us": 2000,
               "latency_b_us": 0, "loss_pct": 0, "down_pct": 0, "flap_pct": 0,
               "flap_period_ns": 0, "dup_pct": 0, "corrupt_pct": 0, "snmp_none": 0.25,
               "snmp_slow": 0, "snmp_delay_ns": 1500000000}
    return {"totals": totals, "options": options, "devices": devs}


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, good, what, detail=None):
        self.passed += bool(good)
        self.failed += not good
        print(f"{'ok  ' if good else 'FAIL'} {what}")
        if not good and detail is not None:
            print(f"     {detail}")


def check_snmp(check, a, work, truth):
    """device_info points in both sinks, scored against the truth."""
    n, devs = len(truth["devices"]), truth["devices"]
    agents = [i for i in range(n) if devs[i]["snmp_agent"]]
    noagent = [i for i in range(n) if not devs[i]["snmp_agent"]]
    ok, bad_name, bad_oid, bad_up, bad_loc, flap_ok, flap_quiet, down, phantom = agents[:9]
    devs[flap_ok]["flap"] = True
    devs[flap_quiet] |= {"flap": True, "snmp_answered": 0}
    devs[down] |= {"down": True, "snmp_answered": 0}
    devs[phantom] |= {"snmp_requests": 0, "snmp_answered": 0}
    now_ns = time.time_ns()
    ready_ms = now_ns // 1000000 - 5000

    def line(i, **over):
        d = devs[i]
        f = {"hostname": d["sys_name"], "snmp_description": d["sys_descr"],
             "snmp_object_id": "." + d["sys_object_id"], "snmp_location": d["sys_location"],
             "snmp_contact": d["sys_contact"]} | over
        up = f.pop("snmp_uptime_s", d["sys_uptime_start"] // 100 + 12)
        return (f"device_info,ip={addr(i)} " + ",".join(f"{k}={lp_str(v)}" for k, v in f.items())
                + f",snmp_uptime_s={up}i {now_ns}")
    lines = [line(ok), line(ok).replace(str(now_ns), str(now_ns - 10**9)),  # two good points
             line(bad_name, hostname="sim-198-18-0-250"),
             line(bad_oid, snmp_object_id="1.3.6.1.4.1.9.12.3.1.3.1812"),  # no leading dot
             line(bad_up, snmp_uptime_s=devs[bad_up]["sys_uptime_start"] // 100 + 3600),
             line(bad_loc, snmp_location="fleetsim DC1, row A, rack 05"),  # fleetsim's formula
             line(flap_ok), line(phantom), line(noagent[0]),
             line(ok).replace(f"ip={addr(ok)}", "ip=198.18.200.1")]  # not in the fleet
    # in both sinks: expected = agents less the down one and the quiet flapper
    exp = len(agents) - 2
    want = {"influx": {"snmp_expected": exp, "snmp_enriched": 2, "snmp_wrong": 5,
                       "snmp_unexpected": 2},
            # VictoriaMetrics cannot see the wrong name, the missing dot nor the location
            "vm": {"snmp_expected": exp, "snmp_enriched": 5, "snmp_wrong": 2,
                   "snmp_unexpected": 2}}
    procs = Procs()
    try:
        for key in ("vm", "influx"):
            sink = SINKS[key]()
            sink.start(procs, work)
            st, body = http_post_raw(f"{sink.url}/write?db={sink.db}",
                                     ("\n".join(lines) + "\n").encode())
            if st != 204:
                die(f"selftest: {sink.name} /write: {st} {body[:200]!r}")
            sink.flush()
            fig, notes = snmp_figures(truth, sink.device_info(), sink.strings, ready_ms)
            got = {k: fig[k] for k in want[key]}
            good = got == want[key] and fig["snmp_completeness_pct"] == \
                round(100.0 * want[key]["snmp_enriched"] / exp, 3)
            check(good, f"{sink.name}: {json.dumps(fig)}",
                  f"wanted {json.dumps(want[key])}\n     notes {json.dumps(notes)}")
            sink.stop(procs)
    finally:
        procs.cleanup()
    # and the empty case: a sink without device_info (ringprobe without SNMP enrichment)
    fig, notes = snmp_figures(truth, {}, "checked", ready_ms)
    good = fig["snmp_enriched"] == 0 and fig["snmp_completeness_pct"] == 0.0 and \
        fig["snmp_expected"] == exp and snmp_notes(notes | {"settings": snmp_settings(a),
                                                            "health": {}}, fig)
    check(good, f"no device_info: {json.dumps(fig)}")


def selftest(a):
    """Runs the checks above (a: parsed options, for ringprobe's SNMP settings); exits 0 when
    every one is as planned."""
    check = Checks()
    work = tempfile.mkdtemp(prefix="rp-bench-fleet-selftest.")
    try:
        check_snmp(check, a, work, hand_made_truth(40))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"selftest: {check.passed} passed, {check.failed} failed")
    raise SystemExit(1 if check.failed else 0)
