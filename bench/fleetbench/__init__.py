"""bench/fleet: ringprobe against a simulated fleet, compared with the simulator's truth.

One command, needs root. It re-executes itself under `unshare -n` (a private network
namespace: nothing it sends can leave it), brings lo up and then:

  1. starts the sink on 127.0.0.1 (a free port, data in a temporary directory):
     VictoriaMetrics (--sink vm, the default) or InfluxDB 1.x `influxd` (--sink influx);
  2. starts bench/fleetsim (a TUN device owning 198.18.0.0/15) with --devices N devices
     from 198.18.0.1, a seed and realistic latency / loss / down / flap options, and
     --replies: one record per echo reply with the latency fleetsim drew for it and the
     hold it really applied on the wire (its tap's stamp of the reply minus its stamp of
     the request);
  3. runs `ringprobe run` over those N addresses at --interval for --seconds (timed from
     /health/ready), samples /health and /proc/PID just before stopping it with SIGTERM;
  4. stops fleetsim, which writes its truth file (per device what it drew and what it
     counted, and the totals) and its reply records;
  5. reads every ping point back from the sink and compares it with the truth;
  6. reads every device_info point back and scores the SNMP enrichment against the truth
     (which devices have an agent, were up, were answered; their sysName, sysDescr,
     sysObjectID, sysLocation, sysContact and sysUpTime at fleetsim's start). See
     scoring.snmp_figures() for the definitions.

Nothing of fleetsim's random draws is recomputed here: what it drew is read from its truth
file and its reply records (bench/fleetsim/fleetsim.c's header comment lists the keys).

The rtt error (rtt_err_p50_us, rtt_err_p99_us) is per probe |measured rtt - wire hold|:
the wire hold is measured between the two kernel stamps of the TUN device (the request
as the host transmits it into the device, the reply as it enters the stack, the very
stamp SO_TIMESTAMPNS reports), so the simulator's own read delay and lateness are not
in it: what is left is the tool's own path and stamping. rtt_err_draw_p50_us/_p99_us
keep the older figure, |measured rtt - the latency fleetsim drew|, which includes the
simulator's lateness (sim_late_p50_us/_p99_us: wire hold - drawn).

With --compare fping it then starts a fresh fleetsim with the same seed and runs fping 5.1
over the same devices for the same number of rounds (several processes: one fping cannot
keep more than ~6,500 targets at 1 s in its 65,535-entry sequence map).

SNMP enrichment: ringprobe is given snmp_rate_limit --snmp-rate (2,000/s: 20,000 devices
in 10 s), snmp.timeout --snmp-timeout (2s, above fleetsim's 1.5 s slow answers),
snmp.retries 1 and ringprobe's default snmp.max_inflight (256: with the fleet's quiet
devices holding a poll for 4 s each, that, more than the rate, paces the polls); fleetsim gets --snmp-none (0.1 of the devices have no agent) and --snmp-slow (0.05
of the agents answer after 1.5 s). --no-snmp sets none of this and reports no SNMP figure.
VictoriaMetrics keeps a string field of a line-protocol point only as a series of zeros
(checked with 1.79.5): with --sink vm the strings cannot be compared (snmp_strings says
so) and a device counts from its device_info series and its uptime; --sink influx
compares every string.

Prints one JSON line per tool (ringprobe first, then fping with --compare), each with
exactly the keys of KEYS, then a markdown table, the SNMP table and notes. Writes
bench/results/<date>-<name>.json (ringprobe), <date>-<name>-fping.json (with --compare),
<date>-<name>.md (table and notes) and <date>-<name>.png (gnuplot, when installed).
See docs/benchmarks.md, "Simulated fleet (bench/fleet)", for what each figure means.

IPv6: --family 6 probes each device at its IPv6 twin (2001:2:: and the 32 bits of its IPv4
address; fleetsim --family 6) and scores against the truth's IPv6 counters (sim_replies is
totals.replies_v6); --family both probes both addresses of each device (two probes per
device per interval; fleetsim --family both, whose devices count both families together)
and adds per-family figures to the notes (points, replies, timeouts, fleetsim's counts, the
rtt error: each family's answered probes paired in order with that family's reply records,
flag 4 marking ICMPv6). --family 4, the default, runs exactly as before.

Usage: sudo bench/fleet [--devices N] [--interval 1s] [--family 4|6|both] [--seconds S] [--seed S] [--name NAME]
                        [--latency SPEC] [--loss PCT] [--down PCT] [--flap PCT:PERIOD]
                        [--spin US] [--timerslack-ns NS] [--sim-args "..."]
                        [--sink vm|influx|none] [--compare fping] [--fping-procs N] [--keep]
                        [--snmp-rate N] [--snmp-none FRAC] [--snmp-slow FRAC]
                        [--snmp-timeout DUR] [--snmp-max-inflight N] [--no-snmp]
       bench/fleet --selftest   (no root: the truth and reply-record readers, the rtt and
                                 SNMP scoring against them, the device_info readers against
                                 hand-made points in VictoriaMetrics and influxd on loopback;
                                 as root also a real fleetsim's truth file)

The code, by concern: cli.py (options, the run, main), procs.py (fleetsim, ringprobe and
fping: start, stop, measure), sinks.py (VictoriaMetrics, InfluxDB), truth.py (fleetsim's
truth file and reply records), scoring.py (the figures), report.py (tables, notes, plot),
selftest.py, common.py (constants and small helpers shared by all).
"""
