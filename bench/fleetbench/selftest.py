"""bench/fleet --selftest: the readers and the scoring against hand-made inputs.

1. A hand-made truth file, laid out as fleetsim writes it, read back by truth.read_truth();
   one without the keys of what fleetsim drew, and a truncated reply-record file, refused.
2. The rtt error from hand-made reply records (truth.read_replies()): which devices are
   compared, which are left out, each error exactly.
3. Hand-made device_info points, as ringprobe writes them, into VictoriaMetrics and influxd
   on loopback, read back and scored against the truth of 1; and with no point at all.
4. As root, with fleetsim built: a real fleetsim's truth file (a few devices for a second in
   a network namespace of its own, nothing sent) passes read_truth() and its "options" say
   what it was told.

Needs no root (4 is skipped without). Exit 0 when every check is as planned.
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

from .common import FLEETSIM, addr, die, family_of, http_post_raw, index_of
from .procs import Procs, snmp_settings
from .report import snmp_notes
from .scoring import rtt_errors, rtt_errors_both, snmp_figures
from .sinks import SINKS
from .truth import TruthError, addr6, answers, read_replies, read_truth, replies_disagree

M64 = (1 << 64) - 1


def lp_str(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fleetsim_text(t):
    """t as fleetsim lays its truth file out: totals, options (an older fleetsim: none), then
    one line per device."""
    c = {"separators": (",", ":")}
    opts = '"options":' + json.dumps(t["options"], **c) + ",\n" if "options" in t else ""
    return ('{"totals":' + json.dumps(t["totals"], **c) + ",\n" + opts
            + '"devices":[\n' + ",\n".join(json.dumps(d, **c) for d in t["devices"])
            + "\n]}\n")


def replies_bin(records):
    """A --replies file: [(device, k, drawn_us, flags, hold_ns or None)]."""
    return b"fsreply1" + struct.pack("<II", 24, 0) + b"".join(
        struct.pack("<IIIIQ", d, k, lat, fl, M64 if hold is None else hold)
        for d, k, lat, fl, hold in records)


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


def check_truth_readers(check, work, truth):
    """1: the hand-made truth through read_truth(); what is refused."""
    path = f"{work}/truth.json"
    with open(path, "w") as f:
        f.write(fleetsim_text(truth))
    got = read_truth(path)
    check(got == truth, "truth file: read back as written (totals, options, devices)")
    refused = []
    old = json.loads(json.dumps(truth))
    del old["options"]
    for d in old["devices"]:
        del d["sys_uptime_start"]
    bad_addr = json.loads(json.dumps(truth))
    bad_addr["devices"][3]["addr"] = "198.18.9.9"
    for name, t in (("old", old), ("addr", bad_addr)):
        with open(f"{work}/{name}.json", "w") as f:
            f.write(fleetsim_text(t))
        try:
            read_truth(f"{work}/{name}.json")
        except TruthError as e:
            refused.append(str(e))
    check(len(refused) == 2, "truth file: one without options and sys_uptime_start, and one "
          "with a device out of place, are refused", refused)

    # --family both: addr6 and answers per device, family in options
    dual = json.loads(json.dumps(truth))
    dual["options"]["family"] = "both"
    dual["options"]["base6"] = "2001:2::c612:1"
    for d in dual["devices"]:
        d["addr6"] = addr6(d["addr"])
        d["answers"] = [d["addr"], d["addr6"]]
    bad6 = json.loads(json.dumps(dual))
    bad6["devices"][5]["addr6"] = bad6["devices"][5]["answers"][1] = "2001:2::c612:99"
    with open(f"{work}/dual.json", "w") as f:
        f.write(fleetsim_text(dual))
    with open(f"{work}/bad6.json", "w") as f:
        f.write(fleetsim_text(bad6))
    try:
        read_truth(f"{work}/bad6.json")
        bad6_refused = False
    except TruthError:
        bad6_refused = True
    got6 = read_truth(f"{work}/dual.json")
    check(got6 == dual and answers(got6, 0) == ["198.18.0.1", "2001:2::c612:1"]
          and answers(got, 0) == ["198.18.0.1"] and addr6("198.18.1.0") == "2001:2::c612:100"
          and bad6_refused, "truth file with --family both: read back, answers() per device, "
          "a device's addr6 out of place refused")
    return got


def check_rtt_from_records(check, work):
    """2: the rtt error of hand-made probes against hand-made reply records."""
    devs = [{"requests": 3, "replies": 2, "latency_sum_us": 5000},  # compared
            {"requests": 4, "replies": 1, "latency_sum_us": 2000},  # the tool sent 3: left
            {"requests": 2, "replies": 1, "latency_sum_us": 2000},  # a reply without record
            {"requests": 1, "replies": 1, "latency_sum_us": 1500},  # compared, hold unknown
            {"requests": 2, "replies": 0, "latency_sum_us": 0}]  # nothing to compare
    records = [(0, 0, 2000, 0, 2100000), (0, 2, 3000, 0, 3050000), (1, 0, 2000, 0, 2000000),
               (2, 0, 2000, 0, 2000000), (3, 0, 1500, 0, None)]
    with open(f"{work}/replies.bin", "wb") as f:
        f.write(replies_bin(records))
    wire = read_replies(f"{work}/replies.bin")
    per_dev = {0: [(0, 2110.0), (1, None), (2, 3040.0)], 1: [(0, 2000.0), (1, None), (2, None)],
               2: [(0, None), (1, 2000.0)], 3: [(0, 1600.0)], 4: [(0, None), (1, None)]}
    res = rtt_errors(devs, per_dev, wire)
    want = {"wire": [10.0, -10.0], "draw": [110.0, 40.0, 100.0], "used": 2, "left": 2,
            "hold_unknown": 1}
    check(res == want, "rtt error from the reply records: 2 devices compared, 2 left out, "
          "errors exact", f"got {res}, wanted {want}")
    truth = {"totals": {"replies": 5, "latency_sum_us": 10500}}
    agree = replies_disagree(truth, wire) is None
    truth["totals"]["replies"] = 6
    check(agree and replies_disagree(truth, wire) is not None,
          "reply records checked against the truth's replies and latency sum")
    with open(f"{work}/short.bin", "wb") as f:
        f.write(replies_bin(records)[:-5])
    try:
        read_replies(f"{work}/short.bin")
        refused = False
    except TruthError:
        refused = True
    check(refused, "reply records: a truncated file is refused")

    # --family both: one device numbers its requests over both addresses; each family's
    # answered probes pair in order with that family's records (flag 4: ICMPv6)
    devs2 = [{"requests": 4, "replies": 3, "latency_sum_us": 6000},  # compared, both
             {"requests": 2, "replies": 1, "latency_sum_us": 1000},  # v6 reply unseen: left
             {"requests": 3, "replies": 1, "latency_sum_us": 1000}]  # the tool sent 2: left
    rec2 = [(0, 0, 1000, 0, 1000000), (0, 1, 2000, 4, 2010000), (0, 3, 3000, 4, 3000000),
            (1, 1, 1000, 4, 1000000), (2, 0, 1000, 0, 1000000)]
    with open(f"{work}/replies2.bin", "wb") as f:
        f.write(replies_bin(rec2))
    v6 = set()
    wire2 = read_replies(f"{work}/replies2.bin", v6)
    per_fam = {4: {0: [(0, 1005.0), (1, None)], 1: [(0, None)], 2: [(0, 1000.0)]},
               6: {0: [(0, 2000.0), (1, 3020.0)], 1: [(0, None)], 2: [(0, None)]}}
    got2 = rtt_errors_both(devs2, per_fam, wire2, v6)
    ok2 = (v6 == {(0 << 32) | 1, (0 << 32) | 3, (1 << 32) | 1}
           and got2[4] == {"wire": [5.0], "draw": [5.0], "used": 1, "left": 1,
                           "hold_unknown": 0}
           and got2[6] == {"wire": [-10.0, 20.0], "draw": [0.0, 20.0], "used": 1, "left": 1,
                           "hold_unknown": 0})
    check(ok2, "rtt error with --family both: each family paired with its own records "
          "(ICMPv6 flag), devices that disagree left out", f"got {got2}, v6 keys {v6}")
    ok_addr = (addr(0, 6) == "2001:2::c612:1" and index_of("2001:2::c612:100") == 255
               and index_of("198.18.1.0") == 255 and index_of("2001:db8::c612:1") == -1
               and family_of("2001:2::c612:1") == 6 and family_of("198.18.0.1") == 4
               and addr(255, 6) == addr6(addr(255)))
    check(ok_addr, "IPv6 device addresses: addr(i, 6) is truth.addr6, index_of() reads both "
          "families, outside 2001:2::/96 is no device")


def check_snmp(check, a, work, truth):
    """3: device_info points in both sinks, scored against the truth read from the file."""
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


def check_real_fleetsim(check, work):
    """4: a real fleetsim's truth file, as root; skipped otherwise."""
    if os.geteuid() != 0 or not os.access(FLEETSIM, os.X_OK) or not shutil.which("unshare"):
        print(f"skip a real fleetsim's truth file (needs root and {FLEETSIM})")
        return
    path = f"{work}/real.json"
    cmd = ["unshare", "-n", "--", FLEETSIM, "--devices", "50", "--seed", "11", "--duration",
           "1", "--latency", "uniform:1ms:3ms", "--loss", "2", "--down", "10", "--flap",
           "20:4s", "--snmp-none", "0.2", "--snmp-slow", "0.1", "--truth", path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    try:
        t = read_truth(path)
    except TruthError as e:
        check(False, "a real fleetsim's truth file", f"{' '.join(cmd)}: exit {r.returncode}, "
              f"{r.stderr.strip()[:300]}; {e}")
        return
    o, want = t["options"], {"base": "198.18.0.1", "latency": "uniform", "latency_a_us": 1000,
                             "latency_b_us": 3000, "loss_pct": 2, "down_pct": 10,
                             "flap_pct": 20, "flap_period_ns": 4 * 10**9, "snmp_none": 0.2,
                             "snmp_slow": 0.1, "snmp_delay_ns": 1500000000}
    devs = t["devices"]
    good = ({k: o[k] for k in want} == want and t["totals"]["seed"] == 11
            and t["totals"]["elapsed_us"] >= 10**6
            and all(0 <= d["sys_uptime_start"] < 2**32 for d in devs)
            and all(0 <= d["flap_phase_ns"] < 4 * 10**9 for d in devs)
            and sum(d["flap"] for d in devs) == t["totals"]["flap_devices"]
            and sum(d["snmp_agent"] for d in devs) == t["totals"]["snmp_agents"]
            and all(d["sys_location"] and d["sys_contact"] for d in devs))
    check(good, "a real fleetsim's truth file: read, options as told, per-device draws there",
          json.dumps({"options": o, "totals": t["totals"], "device0": devs[0]}))

    cmd = ["unshare", "-n", "--", FLEETSIM, "--devices", "300", "--family", "both",
           "--duration", "0.5", "--truth", path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    try:
        t = read_truth(path)
    except TruthError as e:
        check(False, "a real fleetsim's truth file with --family both",
              f"{' '.join(cmd)}: exit {r.returncode}, {r.stderr.strip()[:300]}; {e}")
        return
    check(t["options"].get("family") == "both" and t["options"].get("base6") == "2001:2::c612:1"
          and t["devices"][255]["addr6"] == "2001:2::c612:100"
          and answers(t, 299) == ["198.18.1.44", "2001:2::c612:12c"]
          and t["totals"].get("requests_v6") == 0,
          "a real fleetsim's truth file with --family both: addr6 and answers per device",
          json.dumps({"options": t["options"], "device255": t["devices"][255]}))


def selftest(a):
    """Runs the checks above (a: parsed options, for ringprobe's SNMP settings); exits 0 when
    every one is as planned."""
    check = Checks()
    work = tempfile.mkdtemp(prefix="rp-bench-fleet-selftest.")
    try:
        truth = check_truth_readers(check, work, hand_made_truth(40))
        check_rtt_from_records(check, work)
        check_snmp(check, a, work, truth)
        check_real_fleetsim(check, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"selftest: {check.passed} passed, {check.failed} failed")
    raise SystemExit(1 if check.failed else 0)
