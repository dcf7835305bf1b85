"""What a run prints and writes: the JSON lines, the markdown tables and notes, the plot,
and the files in bench/results/."""
import json
import os
import shutil
import subprocess
import sys

from .common import KEYS, MAIN_KEYS, TOP
from .sinks import SINKS


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.1f}"
    return f"{v:,}"


def table(rows):
    head = ("tool", "expected", "sent", "on time %", "sim replies", "matched", "timeouts",
            "sim drops", "rtt err p50 µs (vs wire)", "rtt err p99 µs (vs wire)",
            "rtt err p50 µs (vs draw)", "rtt err p99 µs (vs draw)", "sim late p50 µs",
            "sim late p99 µs", "wire unknown", "CPU-s / 1M", "RSS MB", "points expected",
            "points delivered")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, fig in rows:
        out.append("| " + " | ".join([name] + [fmt(fig[k]) for k in MAIN_KEYS]) + " |")
    return "\n".join(out)


def snmp_table(fig):
    """ringprobe's SNMP enrichment row (fping has none)."""
    head = ("SNMP enrichment", "expected", "enriched", "completeness %", "wrong", "unexpected",
            "strings compared")
    row = [fmt(fig[k]) for k in ("snmp_expected", "snmp_enriched", "snmp_completeness_pct",
                                 "snmp_wrong", "snmp_unexpected")] + [fig["snmp_strings"] or "–"]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      "| " + " | ".join(["ringprobe"] + row) + " |"])


def snmp_notes(n, fig):
    """The notes on ringprobe's SNMP enrichment."""
    if n is None:
        return [f"- SNMP enrichment: {fig['snmp_strings']}."]
    st, sim, m = n["settings"], n["sim"], n["missing"]
    lag = n["first_point_after_ready_s"]
    out = [
        f"- SNMP enrichment, expected (fleetsim's truth): {n['sim_agents']:,} devices have an "
        f"agent ({n['sim_slow']:,} slow); expected {fig['snmp_expected']:,} = "
        f"{n['sim_steady']:,} agents neither down nor flapping + {n['sim_flap_answered']:,} "
        f"flapping agents fleetsim answered at least once; not expected: {n['sim_down']:,} "
        f"agents on down devices, {n['sim_flap_unanswered_asked']:,} flapping agents asked "
        f"only while down, {n['sim_flap_never_asked']:,} flapping agents never asked. "
        f"fleetsim: {fmt(sim['snmp_requests'])} requests, {fmt(sim['snmp_answered'])} "
        f"answered; not answered: down {fmt(sim['snmp_drops_down'])}, no agent "
        f"{fmt(sim['snmp_drops_noagent'])}, community {fmt(sim['snmp_drops_community'])}, "
        f"queue {fmt(sim['snmp_drops_queue'])}; malformed {fmt(sim['snmp_malformed'])}, "
        f"unsupported {fmt(sim['snmp_unsupported'])}.",
        f"- SNMP enrichment, ringprobe (snmp_rate_limit {st['rate']:g}/s, snmp.timeout "
        f"{st['timeout_ms']} ms, snmp.retries {st['retries']}, snmp.max_inflight "
        f"{st['max_inflight']}): {n['points']:,} device_info points for "
        f"{n['devices_with_points']:,} addresses, fields {', '.join(n['fields']) or '–'}; "
        f"first correct point per enriched device after ready: p50 {fmt(lag['p50'])} s, "
        f"p99 {fmt(lag['p99'])} s, last {fmt(lag['max'])} s. Expected but not enriched: "
        f"never asked {m['never_asked']:,}, asked but never answered {m['never_answered']:,}, "
        f"answered but no device_info {m['no_point']:,}, only wrong points "
        f"{m['only_wrong_points']:,}; device_info without an answer from fleetsim "
        f"{n['phantom']}. Strings: {n['strings']}; sysUpTime "
        + "checked against fleetsim's truth (sys_uptime_start, plus at most its elapsed_us)."
        + (f" /health before the stop: {json.dumps(n['health'])}." if n["health"] else
           " /health has no SNMP counter."),
    ]
    fin = n.get("final") or {}
    if any(v is not None for v in fin.values()):
        ans = fin.get("snmp_answers")
        out.append(
            "- SNMP enrichment, ringprobe's counters at the stop (last health_metrics): "
            + ", ".join(f"{k} {fmt(None if v is None else int(v))}" for k, v in fin.items())
            + (f"; device_info points in the sink {n['points']:,} (one per answer: "
               f"{'equal' if ans is not None and int(ans) == n['points'] else 'NOT equal'}); "
               f"fleetsim answered {fmt(sim['snmp_answered'])} requests (an answer after "
               f"ringprobe's timeout or its stop is not one of ringprobe's)."))
    if not n["points"]:
        out.append("- **no device_info point in the sink**: this ringprobe wrote none "
                   "(a build without SNMP enrichment?), so nothing is enriched.")
    for what, ex in (("missing", n["missing_examples"]), ("wrong", n["wrong_examples"]),
                     ("unexpected", n["unexpected_examples"])):
        if ex and (what != "missing" or n["points"]):
            out.append(f"- SNMP {what}, first {len(ex)}: `{json.dumps(ex)}`")
    return out


def plot(per_s, a, png, work):
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (Debian: gnuplot-nox): no plot"
    if not per_s:
        return "no ping points in the sink: no plot"
    # per_s counts by millisecond: regroup by whole seconds since the first probe, without
    # the last one (cut short by the stop)
    first = min(per_s)
    sec = {}
    for ms, (n, ok) in per_s.items():
        c = sec.setdefault((ms - first) // 1000, [0, 0])
        c[0] += n
        c[1] += ok
    if len(sec) > 1:
        del sec[max(sec)]
    per_s, first = sec, 0
    secs = sorted(per_s)
    dat = f"{work}/per-second.dat"
    with open(dat, "w") as f:
        f.write("# second probes_sent replies\n")
        for s in secs:
            f.write(f"{s - first} {per_s[s][0]} {per_s[s][1]}\n")
    want = a.devices * (2 if getattr(a, "family", "4") == "both" else 1) / a.interval
    gp = f"""set terminal pngcairo size 1000,520 font ",10"
set output '{png}'
set title "ringprobe over {a.devices:,} simulated devices every {a.interval:g} s (seed {a.seed}): per second, from the sink"
set xlabel "seconds since the first probe"
set ylabel "per second"
set key bottom right
set grid
set yrange [0:{want * 1.15:.0f}]
plot '{dat}' using 1:2 with steps lw 2 title 'probes sent', \\
     '' using 1:3 with steps lw 2 title 'replies', \\
     {want:.0f} with lines dt 2 lc rgb 'gray' title 'schedule ({want:,.0f}/s)'
"""
    r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
    if r.returncode != 0:
        return f"gnuplot failed: {r.stderr.strip()[:300]}"
    return None


def error_notes(tool, n):
    """The notes on the rtt error of one tool and on the simulator's lateness."""
    w, d = n["err_wire"], n["err_draw"]
    return [
        f"- {tool} rtt error against the wire (per probe, |measured rtt − wire hold|; the hold "
        f"fleetsim applied between the TUN device's kernel stamps of the request and of the "
        f"reply): {w['n']:,} replies of {n['rtt_devices']:,} devices compared, "
        f"{n['rtt_devices_left_out']} devices left out (truth disagreed: request or reply "
        f"count, a reply without its record, or the records' latency sum), "
        f"{n['rtt_hold_unknown']} replies with an unknown hold; p50 {fmt(w['p50'])}, p90 {fmt(w['p90'])}, p99 {fmt(w['p99'])}, p99.9 "
        f"{fmt(w['p999'])}, max {fmt(w['max'])} µs; signed (measured − wire hold) p1 "
        f"{fmt(w['signed_p1'])}, median {fmt(w['signed_p50'])}, lowest "
        f"{fmt(w['signed_min'])}, highest {fmt(w['signed_max'])} µs.",
        f"- {tool} rtt error against the draw (|measured rtt − latency fleetsim drew|, its "
        f"lateness included): p50 {fmt(d['p50'])}, p90 {fmt(d['p90'])}, p99 {fmt(d['p99'])}, "
        f"p99.9 {fmt(d['p999'])}, max {fmt(d['max'])} µs; signed p1 {fmt(d['signed_p1'])}, "
        f"median {fmt(d['signed_p50'])}, lowest {fmt(d['signed_min'])} µs.",
        f"- simulator on the wire during the {tool} run (wire hold − drawn latency over its "
        f"{n['records']:,} reply records): lowest {fmt(n['wire_late_min_us'])}, max "
        f"{fmt(n['wire_late_max_us'])} µs; tap: {fmt(n['wire_matched'])} replies matched, "
        f"ring drops {fmt(n['tap_drops'])}, request frames dropped "
        f"{fmt(n['tap_skipped_requests'])} (the TUN queue dropped them), reply frames dropped "
        f"{fmt(n['tap_skipped_replies'])} (duplicate copies), waits for a frame in copy "
        f"{fmt(n['tap_waits'])}."
        + (f" **Reply records against the truth: {n['records_disagree']}.**"
           if n["records_disagree"] else ""),
    ]


def fig_rate(n, secs):
    return f"{n / secs:,.0f}" if secs else "–"


def describe(a):
    flap = a.flap if a.flap and float(a.flap.split(":")[0].rstrip("%")) > 0 else "0"
    extra = f" {a.sim_args}" if a.sim_args else ""
    snmp = ("no SNMP settings (--no-snmp)" if a.no_snmp else
            f"SNMP: snmp_rate_limit {a.snmp_rate:g}/s, snmp.timeout {a.snmp_timeout:g} s")
    fam = getattr(a, "family", "4")
    where = {"4": "198.18.0.1 onwards", "6": "IPv6: 2001:2::c612:1 onwards, fleetsim "
             "--family 6", "both": "each at 198.18.0.1 onwards and at its IPv6 twin "
             "2001:2::c612:1 onwards, fleetsim --family both"}[fam]
    return (f"{a.devices:,} devices ({where}) every {a.interval:g} s for "
            f"{a.seconds} s; fleetsim --seed {a.seed} --latency {a.latency} --loss {a.loss} "
            f"--down {a.down} --flap {flap} --spin {a.spin} --snmp-none {a.snmp_none} "
            f"--snmp-slow {a.snmp_slow}{extra}; its timer slack "
            f"{a.timerslack_ns or 'default'} ns; sink {SINKS[a.sink].name}; {snmp}")


def report(a, started, fig, notes, ffig, fnotes, plot_err, stem):
    """Prints the JSON line of each tool, the tables and the notes; writes them to stem.json,
    stem-fping.json (with --compare fping) and stem.md. fig and notes are ringprobe's, ffig
    and fnotes fping's or None; plot_err: why there is no plot, or None."""
    rows = [("ringprobe", fig)] + ([("fping 5.1", ffig)] if fnotes is not None else [])
    rev = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    lines = [json.dumps({k: fig[k] for k in KEYS})]
    if fnotes is not None:
        lines.append(json.dumps({k: ffig[k] for k in KEYS}))
    md = [f"# bench/fleet {a.name}: started {started}, ringprobe {rev}, "
          f"kernel {os.uname().release}, {os.cpu_count()} CPUs",
          "", describe(a), "", table(rows), "", snmp_table(fig), ""]
    n = notes
    md.append(
        f"- ringprobe: {n['shards']} shards, ping_timeout {n['timeout_ms']} ms, "
        f"ping_rate_limit {n['rate_limit']}/s; ran {n['run_s']} s from ready to SIGTERM; "
        f"CPU {n['cpu_s']} s for {n['sent_at_cpu_sample']:,} probes at the sample; "
        f"late sends {n['late_sends']} (worst {n['max_late_ms']} ms); "
        f"late replies {n['late_replies']}, invalid {n['invalid_replies']}, "
        f"send errors {n['send_errors']}, ring drops {n['ring_drops']}, "
        f"points dropped {n['points_dropped']}; suspended at the stop "
        f"{n['suspended_at_stop']}.")
    md.append(
        f"- simulator (ringprobe run): requests received {n['sim_requests']:,} "
        f"(sent − received = {fig['sent'] - n['sim_requests']:,}); drops "
        + ", ".join(f"{k[6:]} {v:,}" for k, v in n["drops"].items())
        + f"; {n['down_devices']} down and {n['flap_devices']} flapping devices; "
        f"worst reply lateness {n['sim_max_late_us']:,} µs; stray packets {n['sim_stray']}; "
        f"CPU {fmt(n['sim_cpu_s'])} s.")
    if n.get("family"):
        md.append(
            f"- family {n['family']}: fleetsim counted {fmt(n['sim_requests_v6'])} ICMPv6 "
            f"echo requests and sent {fmt(n['sim_replies_v6'])} replies over IPv6 (of "
            f"{n['sim_requests']:,} and {fig['sim_replies']:,} in all); SNMP over IPv6 "
            f"{fmt(n['sim_snmp_requests_v6'])} requests, {fmt(n['sim_snmp_answered_v6'])} "
            f"answered.")
    for fam, pf in sorted((n.get("per_family") or {}).items()):
        md.append(
            f"- {fam} (from the sink's points; the daemon's counters are not per family): "
            f"{pf['points']:,} points at {pf['addresses']:,} addresses, {pf['matched_points']:,} "
            f"replies, {pf['timeout_points']:,} timeouts; fleetsim {pf['sim_requests']:,} "
            f"requests, {pf['sim_replies']:,} replies; rtt error vs wire p50 "
            f"{fmt(pf['rtt_err_p50_us'])}, p99 {fmt(pf['rtt_err_p99_us'])} µs, vs draw p50 "
            f"{fmt(pf['rtt_err_draw_p50_us'])}, p99 {fmt(pf['rtt_err_draw_p99_us'])} µs "
            f"({pf['rtt_devices']:,} devices compared, {pf['rtt_devices_left_out']} left out).")
    md.extend(error_notes("ringprobe", n))
    md.extend(snmp_notes(n["snmp"], fig))
    if fnotes is not None:
        fn = fnotes
        md.append(
            f"- fping: `{fn['cmd']}` × {fn['processes']} processes of up to "
            f"{fn['targets_per_process']:,} targets (its sequence map holds 65,535 "
            f"probes for 10 s); wall {fn['wall_s']} s for a {a.seconds} s schedule "
            f"({fig_rate(ffig['sent'], fn['wall_s'])} probes/s), CPU {fn['cpu_s']} s, exit codes "
            f"{fn['exit_codes']}; simulator requests received {fn['sim_requests']:,}, drops "
            + ", ".join(f"{k[6:]} {v:,}" for k, v in fn["drops"].items())
            + f", worst reply lateness {fn['sim_max_late_us']:,} µs, CPU "
            f"{fmt(fn['sim_cpu_s'])} s."
            + (f" fping said: {'; '.join(fn['errors'])}" if fn["errors"] else ""))
        md.extend(error_notes("fping", fn))
        md.append(
            "- fping prints rtt with three decimals below 1 ms, two below 10 ms, one below "
            "100 ms and none above: its errors include up to 0.5 ms of rounding on long "
            "replies (its signed error can go down to about −0.5 ms).")
        if fig["cpu_s_per_m"] and ffig["cpu_s_per_m"]:
            md.append(f"- CPU per 1M probes, fping / ringprobe: "
                      f"{ffig['cpu_s_per_m'] / fig['cpu_s_per_m']:.2f}×.")
    if plot_err:
        md.append(f"- plot: {plot_err}")
    else:
        md.append(f"- plot: bench/results/{os.path.basename(stem)}.png")
    for line in lines:
        print(line)
    print()
    print("\n".join(md[2:]))
    sys.stdout.flush()
    with open(stem + ".json", "w") as f:
        f.write(lines[0] + "\n")
    if fnotes is not None:
        with open(stem + "-fping.json", "w") as f:
            f.write(lines[1] + "\n")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md) + "\n\n```\n" + "\n".join(lines) + "\n```\n")
