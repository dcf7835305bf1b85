"""The figures: what a tool measured (from the sink or fping's output) against fleetsim's
truth file and reply records (truth.py)."""
import math
import re

from .common import (INFO_STRINGS, SNMP_KEYS, addr, family_of, fams, index_of, log, pct, r1)
from .truth import replies_disagree, uptime_window

# ---- rtt error ----------------------------------------------------------------------------------


def sim_lateness(wire):
    """wire hold - drawn latency (us) of every reply whose hold the tap knows, sorted."""
    return sorted(hold / 1000.0 - lat for lat, hold in wire.values() if hold is not None)


def rtt_errors(truth_devs, per_device, wire):
    """per_device: {index: [(k, rtt_us or None)]} with k the request number at the device.
    Each answered probe is compared with fleetsim's reply record k of that device: with its
    wire hold ("wire") and with its drawn latency ("draw"); both lists are signed, measured
    minus truth. A device is compared only when the truth agrees with the pairing: fleetsim
    received as many requests as the tool sent, the tool saw as many replies as fleetsim
    sent, each of them has its record, and the records' latencies sum to the truth's."""
    res = {"wire": [], "draw": [], "used": 0, "left": 0, "hold_unknown": 0}
    for i, probes in per_device.items():
        t = truth_devs[i]
        if t["requests"] != len(probes) or t["replies"] == 0:
            res["left"] += t["replies"] > 0
            continue
        ok = [(k, wire.get((i << 32) | k), rtt) for k, rtt in probes if rtt is not None]
        if len(ok) != t["replies"] or any(rec is None for _, rec, _ in ok) or \
                sum(rec[0] for _, rec, _ in ok) != t["latency_sum_us"]:
            res["left"] += 1
            continue
        res["used"] += 1
        for _, (lat, hold), rtt in ok:
            res["draw"].append(rtt - lat)
            if hold is None:
                res["hold_unknown"] += 1
            else:
                res["wire"].append(rtt - hold / 1000.0)
    return res


def rtt_errors_both(truth_devs, per_fam, wire, v6_keys):
    """rtt_errors() for a fleet probed at both addresses of each device (--family both):
    fleetsim numbers a device's requests over both families (k), so each family's answered
    probes (per_fam[4|6]: {index: [(k_in_family, rtt_us or None)]}, in send order) are paired
    in order with that family's reply records (flag bit 2: ICMPv6, v6_keys) in order of k.
    A device is compared only when fleetsim received as many requests as were sent at both
    addresses, each family saw as many replies as it has records, and all its records'
    latencies sum to the truth's. Returns {4: res, 6: res} as rtt_errors() does."""
    recs = {}
    for key, rec in wire.items():
        recs.setdefault(key >> 32, []).append((key & 0xFFFFFFFF, key in v6_keys, rec))
    out = {f: {"wire": [], "draw": [], "used": 0, "left": 0, "hold_unknown": 0} for f in (4, 6)}
    for i in set(per_fam[4]) | set(per_fam[6]):
        t = truth_devs[i]
        p = {f: per_fam[f].get(i, []) for f in (4, 6)}
        rs = sorted(recs.get(i, []))
        ok = t["requests"] == len(p[4]) + len(p[6]) and t["replies"] == len(rs) and \
            sum(r[0] for _, _, r in rs) == t["latency_sum_us"]
        for f in (4, 6):
            got = [rtt for _, rtt in p[f] if rtt is not None]
            mine = [r for _, v6, r in rs if v6 == (f == 6)]
            if not ok or len(got) != len(mine):
                out[f]["left"] += len(mine) > 0 or len(got) > 0
                continue
            if not got:
                continue
            out[f]["used"] += 1
            for rtt, (lat, hold) in zip(got, mine):
                out[f]["draw"].append(rtt - lat)
                if hold is None:
                    out[f]["hold_unknown"] += 1
                else:
                    out[f]["wire"].append(rtt - hold / 1000.0)
    return out


def err_stats(signed):
    """Percentiles of |error| and of the signed error (us), rounded to 0.1 us."""
    s = sorted(signed)
    a = sorted(abs(x) for x in signed)
    return {"n": len(s), "p50": r1(pct(a, 50)), "p90": r1(pct(a, 90)), "p99": r1(pct(a, 99)),
            "p999": r1(pct(a, 99.9)), "max": r1(a[-1] if a else None),
            "signed_min": r1(s[0] if s else None), "signed_p1": r1(pct(s, 1)),
            "signed_p50": r1(pct(s, 50)), "signed_max": r1(s[-1] if s else None)}


def error_figures(res, wire, truth):
    """The rtt error and simulator lateness keys of a JSON line, and their notes."""
    t = truth["totals"]
    w, d, late = err_stats(res["wire"]), err_stats(res["draw"]), sim_lateness(wire)
    fig = {"rtt_err_p50_us": w["p50"], "rtt_err_p99_us": w["p99"],
           "rtt_err_draw_p50_us": d["p50"], "rtt_err_draw_p99_us": d["p99"],
           "sim_late_p50_us": r1(pct(late, 50)), "sim_late_p99_us": r1(pct(late, 99)),
           "wire_unknown": t.get("wire_unknown")}
    disagree = replies_disagree(truth, wire)
    if disagree:
        log(f"the reply records disagree with the truth: {disagree}")
    notes = {"rtt_devices": res["used"], "rtt_devices_left_out": res["left"],
             "rtt_hold_unknown": res["hold_unknown"], "records_disagree": disagree,
             "err_wire": w, "err_draw": d, "wire_late_max_us": r1(late[-1] if late else None),
             "wire_late_min_us": r1(late[0] if late else None), "records": len(wire),
             "wire_matched": t.get("wire_matched"), "tap_drops": t.get("tap_drops"),
             "tap_skipped_requests": t.get("tap_skipped_requests"),
             "tap_skipped_replies": t.get("tap_skipped_replies"), "tap_waits": t.get("tap_waits")}
    return fig, notes


# ---- SNMP enrichment ----------------------------------------------------------------------------
#
# What fleetsim's agent at device i answers is in its truth file: sys_name, sys_descr,
# sys_object_id (dotted without the leading dot), sys_location, sys_contact, and
# sys_uptime_start (sysUpTime at fleetsim's start; it answers that plus the time since).


def snmp_expected_values(truth, i):
    """The device_info fields device i's answers must give; snmp_uptime_s as (lo, hi): the
    request met fleetsim between its start and the truth's writing (truth.uptime_window),
    and ringprobe may round the 1/100 s ticks either way."""
    d = truth["devices"][i]
    lo, hi = uptime_window(truth, i)
    return {"hostname": d["sys_name"], "snmp_description": d["sys_descr"],
            "snmp_object_id": "." + d["sys_object_id"], "snmp_location": d["sys_location"],
            "snmp_contact": d["sys_contact"],
            "snmp_uptime_s": (lo // 100, math.ceil(hi / 100))}


def point_diffs(pt, want, strings_checked):
    """[(field, got, want)] where the device_info point pt differs from want."""
    out = []
    for f in INFO_STRINGS:
        got = pt.get(f)
        if got is None:
            out.append((f, None, want[f]))
        elif strings_checked and got != want[f]:
            out.append((f, got, want[f]))
    got, rng = pt.get("snmp_uptime_s"), want["snmp_uptime_s"]
    if got is None or isinstance(got, bool) or not isinstance(got, (int, float)) \
            or got != int(got) or not rng[0] <= got <= rng[1]:
        out.append(("snmp_uptime_s", got, rng))
    return out


def snmp_figures(truth, info, strings, ready_ms, family="4"):
    """The SNMP keys of ringprobe's JSON line and their notes, from fleetsim's truth and the
    device_info points read back from the sink (info: {ip: [point]}).

    snmp_expected: the devices whose agent must have answered at least once during the
      run: fleetsim gave them an agent (snmp_agent) and they were up when asked. A device
      that is not down and not flapping is up the whole run: every request reaches its
      agent, so it counts whether or not ringprobe asked it (not asking is incompleteness).
      A down device never answers: left out. A flapping device is down half of every
      period and answers only requests that come in its up half, which the daemon cannot
      know: it counts when fleetsim answered it at least once (truth snmp_answered >= 1).
      The truth is written when fleetsim stops, after ringprobe: an answer that came too
      late for ringprobe still counts, so this errs towards expecting more.
    snmp_enriched: expected devices with at least one device_info point equal to the truth:
      hostname = sys_name, snmp_description = sys_descr, snmp_object_id = "." +
      sys_object_id, snmp_location = sys_location, snmp_contact = sys_contact, and
      snmp_uptime_s an integer within the sysUpTime fleetsim had between its start
      (sys_uptime_start) and its stop. With VictoriaMetrics (strings lost) the five string
      fields need only be there.
    snmp_wrong: devices with an agent and a device_info point that differs (a field wrong
      or missing), or with a device_info point although fleetsim never answered them.
      Must be 0.
    snmp_unexpected: devices with a device_info point and no agent (or addresses that are
      not in the fleet). Must be 0.
    snmp_completeness_pct: 100 x enriched / expected."""
    devs = truth["devices"]
    strings_checked = strings == "checked"

    expected, cat = set(), {"agents": 0, "slow": 0, "steady": 0, "flap_answered": 0,
                            "down": 0, "flap_unanswered_asked": 0, "flap_never_asked": 0}
    for i, d in enumerate(devs):
        if not d["snmp_agent"]:
            continue
        cat["agents"] += 1
        cat["slow"] += d["snmp_slow"]
        if d["down"]:
            cat["down"] += 1
        elif not d["flap"]:
            cat["steady"] += 1
            expected.add(i)
        elif d["snmp_answered"] > 0:
            cat["flap_answered"] += 1
            expected.add(i)
        elif d["snmp_requests"] > 0:
            cat["flap_unanswered_asked"] += 1
        else:
            cat["flap_never_asked"] += 1

    enriched, wrong, phantom, unexpected = set(), set(), set(), set()
    first_ok, diffs, fields, npoints = {}, [], set(), 0
    for ip, pts in info.items():
        npoints += len(pts)
        try:
            i = index_of(ip)
        except (ValueError, IndexError):
            i = -1
        if not 0 <= i < len(devs) or not devs[i]["snmp_agent"]:
            unexpected.add(ip)
            continue
        want = snmp_expected_values(truth, i)
        for pt in pts:
            fields.update(k for k in pt if k != "time_ms")
            dd = point_diffs(pt, want, strings_checked)
            if dd:
                wrong.add(i)
                if len(diffs) < 5:
                    diffs.append({"ip": ip, "diffs": [{"field": f, "got": g, "want": w}
                                                      for f, g, w in dd]})
            elif devs[i]["snmp_answered"] > 0:
                enriched.add(i)
                first_ok[i] = min(first_ok.get(i, pt["time_ms"]), pt["time_ms"])
        if devs[i]["snmp_answered"] == 0:
            phantom.add(i)
            wrong.add(i)
    assert enriched <= expected  # answered, so neither down nor an unanswered flapper

    missing = sorted(expected - enriched)
    miss = {"never_asked": 0, "never_answered": 0, "no_point": 0, "only_wrong_points": 0}
    for i in missing:
        d = devs[i]
        if d["snmp_requests"] == 0:
            miss["never_asked"] += 1
        elif d["snmp_answered"] == 0:
            miss["never_answered"] += 1
        elif not any(addr(i, f) in info for f in fams(family)):
            miss["no_point"] += 1
        else:
            miss["only_wrong_points"] += 1
    lag = sorted((ms - ready_ms) / 1000.0 for ms in first_ok.values())
    t = truth["totals"]
    fig = {
        "snmp_expected": len(expected),
        "snmp_enriched": len(enriched),
        "snmp_wrong": len(wrong),
        "snmp_unexpected": len(unexpected),
        "snmp_completeness_pct":
            round(100.0 * len(enriched) / len(expected), 3) if expected else None,
        "snmp_strings": strings if strings_checked else strings.split(";")[0],
    }
    notes = {
        "strings": strings,
        **{f"sim_{k}": v for k, v in cat.items()},
        "sim": {k: t.get(k) for k in ("snmp_requests", "snmp_answered", "snmp_drops_down",
                                      "snmp_drops_noagent", "snmp_drops_community",
                                      "snmp_drops_queue", "snmp_malformed",
                                      "snmp_unsupported")},
        "points": npoints,
        "devices_with_points": len(info),
        "addresses_with_points_v6": sum(":" in ip for ip in info),
        "fields": sorted(fields),
        "phantom": len(phantom),
        "missing": miss,
        "missing_examples": [{"ip": addr(i), "flap": devs[i]["flap"],
                              "slow": devs[i]["snmp_slow"],
                              "requests": devs[i]["snmp_requests"],
                              "answered": devs[i]["snmp_answered"],
                              "points": sum(len(info.get(addr(i, f), []))
                                            for f in fams(family))} for i in missing[:5]],
        "wrong_examples": diffs,
        "unexpected_examples": sorted(unexpected)[:5],
        "first_point_after_ready_s": {"p50": r1(pct(lag, 50)), "p99": r1(pct(lag, 99)),
                                      "max": r1(lag[-1] if lag else None)},
    }
    return fig, notes


def snmp_none_figures(why):
    """The SNMP keys when they were not measured (--no-snmp, fping)."""
    return {k: None for k in SNMP_KEYS[:-1]} | {"snmp_strings": why}


# ---- per tool -----------------------------------------------------------------------------------


def ringprobe_figures(a, r, truth, sink, wire, v6_keys=None):
    """ringprobe's JSON line (fig), its notes and its per-millisecond counts (for the plot),
    from run_ringprobe()'s result r, the sink and fleetsim's truth and reply records."""
    h = r["health"]
    # The health_metrics point written at the stop carries the counters after the last
    # probe's result: every probe, its reply or its timeout. /health just before SIGTERM
    # misses the few sent in between, so it is used for the CPU ratio only (same instant).
    final = {k: sink.last(k)
             for k in ("probes_sent", "replies", "timeouts", "late_sends", "late_replies",
                       "invalid_replies", "send_errors", "ring_drops", "points_dropped")}
    for k, v in final.items():
        if v is None:
            log(f"no final health_metrics_{k} in the sink: /health's {k} used")
            final[k] = h.get(k, 0)
        final[k] = int(final[k])
    sent = final["probes_sent"]
    # Every ping point: per device in send order, so the k-th is the k-th request the device
    # received (checked against the truth's per-device request count).
    family = getattr(a, "family", "4")
    per_dev, per_s, delivered = {}, {}, 0
    per_fam = {4: {}, 6: {}}  # --family both: {index: probes} per family
    fam_pts = {4: [0, 0, 0], 6: [0, 0, 0]}  # points, successes, addresses with points
    for ip, pts in sink.points().items():
        i = index_of(ip)
        delivered += len(pts)
        fp = fam_pts[family_of(ip)]
        fp[0] += len(pts)
        fp[1] += sum(1 for _, ok, _ in pts if ok)
        fp[2] += 1
        probes = []
        for k, (ts, ok, rtt_ms) in enumerate(pts):
            c = per_s.setdefault(ts, [0, 0])
            c[0] += 1
            if ok:
                c[1] += 1
                probes.append((k, None if rtt_ms is None else rtt_ms * 1000.0))
            else:
                probes.append((k, None))
        if 0 <= i < a.devices:
            per_dev[i] = probes
            per_fam[family_of(ip)][i] = probes
    t = truth["totals"]
    fam_notes = None
    if family == "both":
        both = rtt_errors_both(truth["devices"], per_fam, wire, v6_keys)
        res = {k: both[4][k] + both[6][k] for k in both[4]}
        fam_notes = {}
        for f in (4, 6):
            w, d = err_stats(both[f]["wire"]), err_stats(both[f]["draw"])
            v6 = f == 6
            fam_notes[f"ipv{f}"] = {
                "points": fam_pts[f][0], "matched_points": fam_pts[f][1],
                "timeout_points": fam_pts[f][0] - fam_pts[f][1], "addresses": fam_pts[f][2],
                "sim_requests": t["requests_v6"] if v6 else t["requests"] - t["requests_v6"],
                "sim_replies": t["replies_v6"] if v6 else t["replies"] - t["replies_v6"],
                "rtt_err_p50_us": w["p50"], "rtt_err_p99_us": w["p99"],
                "rtt_err_draw_p50_us": d["p50"], "rtt_err_draw_p99_us": d["p99"],
                "rtt_devices": both[f]["used"], "rtt_devices_left_out": both[f]["left"]}
    else:
        res = rtt_errors(truth["devices"], per_dev, wire)
    efig, enotes = error_figures(res, wire, truth)
    fig = {
        "expected": round(a.devices * len(fams(family)) * a.seconds / a.interval),
        "sent": sent,
        "on_time_pct": round(100.0 * (sent - final["late_sends"]) / sent, 3) if sent else None,
        "sim_replies": t["replies_v6"] if family == "6" else t["replies"],
        "matched": final["replies"],
        "timeouts": final["timeouts"],
        "sim_drops": t["drops"],
        **efig,
        "cpu_s_per_m": round(r["cpu_s"] / h["probes_sent"] * 1e6, 2) if h.get("probes_sent") else None,
        "rss_mb": round(r["rss_mb"], 1),
        "points_expected": sent,
        "points_delivered": delivered,
    }
    if r["snmp"] is None:
        fig |= snmp_none_figures("skipped (--no-snmp)")
        snotes = None
    else:
        sfig, snotes = snmp_figures(truth, sink.device_info(), sink.strings, r["ready_ms"],
                                    family)
        fig |= sfig
        snotes["settings"] = r["snmp"]
        # the daemon's SNMP counters: from the health_metrics point written at the stop
        # (after the last answer was taken), else /health just before SIGTERM
        snotes["health"] = {k: v for k, v in h.items() if "snmp" in k}
        snotes["final"] = {k: sink.last(k) for k in ("snmp_polls", "snmp_answers",
                                                     "snmp_timeouts", "snmp_errors",
                                                     "snmp_suspended")}
    notes = {
        "sim_requests": t["requests"],
        **({} if family == "4" else {
            "family": family, "sim_requests_v6": t.get("requests_v6"),
            "sim_replies_v6": t.get("replies_v6"),
            "sim_snmp_requests_v6": t.get("snmp_requests_v6"),
            "sim_snmp_answered_v6": t.get("snmp_answered_v6"), "per_family": fam_notes}),
        "drops": {k: t[k] for k in ("drops_loss", "drops_down", "drops_flap", "drops_queue")},
        "sim_max_late_us": t["max_late_us"],
        "sim_stray": t["stray"],
        "down_devices": t["down_devices"],
        "flap_devices": t["flap_devices"],
        "late_sends": final["late_sends"],
        "max_late_ms": round(h.get("max_late_ns", 0) / 1e6, 2),
        "late_replies": final["late_replies"],
        "invalid_replies": final["invalid_replies"],
        "send_errors": final["send_errors"],
        "ring_drops": final["ring_drops"],
        "points_dropped": final["points_dropped"],
        "suspended_at_stop": h.get("suspended"),
        "shards": h.get("shards"),
        "cpu_s": round(r["cpu_s"], 2),
        "sent_at_cpu_sample": h.get("probes_sent"),
        "run_s": round(r["run_s"], 2),
        "rate_limit": r["rate"],
        "timeout_ms": int(r["timeout_s"] * 1000),
        "sim_cpu_s": truth.get("cpu_s"),
        "snmp": snotes,
        **enotes,
    }
    return fig, notes, per_s


FPING_REPLY = re.compile(rb"^(\S+)\s+: \[(\d+)\], \d+ bytes, ([0-9.]+) ms")
FPING_SUMMARY = re.compile(rb"^(\S+)\s+: xmt/rcv/%loss = (\d+)/(\d+)/")


def fping_figures(a, f, truth, wire, work):
    """fping's JSON line and notes, from run_fping()'s result f and its output files in work."""
    per_dev, sent, rcv = {}, 0, 0
    errors = []
    for r in f["runs"]:
        j = r["j"]
        with open(f"{work}/fping-{j}.out", "rb") as fh:
            for line in fh:
                m = FPING_REPLY.match(line)
                if m:
                    per_dev.setdefault(index_of(m.group(1).decode()), {})[int(m.group(2))] = \
                        float(m.group(3)) * 1000.0
        with open(f"{work}/fping-{j}.err", "rb") as fh:
            for line in fh:
                m = FPING_SUMMARY.match(line)
                if m:
                    i = index_of(m.group(1).decode())
                    x, c = int(m.group(2)), int(m.group(3))
                    sent += x
                    rcv += c
                    per_dev.setdefault(i, {})
                    per_dev[i]["xmt"] = x
                elif line.strip() and b"xmt/rcv" not in line and b" : " not in line:
                    errors.append(line.decode(errors="replace").strip())
    probes = {}
    for i, d in per_dev.items():
        x = d.pop("xmt", None)
        if x is None or not 0 <= i < a.devices:
            continue
        probes[i] = [(k, d.get(k)) for k in range(x)]
    res = rtt_errors(truth["devices"], probes, wire)
    t = truth["totals"]
    efig, enotes = error_figures(res, wire, truth)
    fig = {
        "expected": round(a.devices * a.seconds / a.interval),
        "sent": sent,
        "on_time_pct": None,  # fping does not say when a probe was due
        "sim_replies": t["replies"],
        "matched": rcv,
        "timeouts": sent - rcv,
        "sim_drops": t["drops"],
        **efig,
        "cpu_s_per_m": round(f["cpu_s"] / sent * 1e6, 2) if sent else None,
        "rss_mb": round(f["rss_mb"], 1),
        "points_expected": None,  # fping writes no sink
        "points_delivered": None,
        **snmp_none_figures(None),  # fping has no SNMP
    }
    notes = {
        "sim_requests": t["requests"],
        "drops": {k: t[k] for k in ("drops_loss", "drops_down", "drops_flap", "drops_queue")},
        "sim_max_late_us": t["max_late_us"],
        "processes": f["nproc"],
        "targets_per_process": f["per"],
        "cmd": f["cmd"],
        "exit_codes": sorted(set(f["rcs"])),
        "wall_s": round(f["wall_s"], 2),
        "cpu_s": round(f["cpu_s"], 2),
        "errors": errors[:5],
        "sim_cpu_s": truth.get("cpu_s"),
        **enotes,
    }
    return fig, notes
