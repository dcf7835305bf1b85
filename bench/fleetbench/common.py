"""Constants and small helpers shared by every part of bench/fleet."""
import argparse
import ipaddress
import math
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENTRY = os.path.join(TOP, "bench/fleet")  # re-executed under unshare -n
RP = os.path.join(TOP, "build/release/src/cli/ringprobe")
FLEETSIM = os.path.join(TOP, "build/release/bench/fleetsim/fleetsim")
BASE = 0xC6120001  # 198.18.0.1, fleetsim's default --base
LAST_OK = 0xC613FFFD  # 198.19.255.253: 198.19.255.254 is the TUN's own address

KEYS = ("expected", "sent", "on_time_pct", "sim_replies", "matched", "timeouts", "sim_drops",
        "rtt_err_p50_us", "rtt_err_p99_us", "rtt_err_draw_p50_us", "rtt_err_draw_p99_us",
        "sim_late_p50_us", "sim_late_p99_us", "wire_unknown", "cpu_s_per_m", "rss_mb",
        "points_expected", "points_delivered",
        "snmp_expected", "snmp_enriched", "snmp_wrong", "snmp_unexpected",
        "snmp_completeness_pct", "snmp_strings")
SNMP_KEYS = KEYS[KEYS.index("snmp_expected"):]
MAIN_KEYS = KEYS[:KEYS.index("snmp_expected")]

# A device_info point as the sinks return it: the string fields ringprobe writes, its numeric
# one, and what VictoriaMetrics leaves of a string (a series of zeros: the field came, its text
# is lost).
INFO_STRINGS = ("hostname", "snmp_description", "snmp_object_id", "snmp_location",
                "snmp_contact")
NUMERIC_INFO = ("snmp_uptime_s",)
PRESENT = "<present>"


def log(msg):
    print(f"bench/fleet: {msg}", file=sys.stderr, flush=True)


def die(msg, code=1):
    log(msg)
    sys.exit(code)


def duration_s(text):
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)(ms|s|m)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 1s, 500ms)")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v * 60 if m.group(2) == "m" else v


def frac(text):
    """fleetsim's FRAC: 0..1, or N% (its parse_frac)."""
    v = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= v <= 1:
        raise ValueError(text)
    return v


NET6 = 0x20010002 << 96  # 2001:2::/96: fleetsim's IPv6 twin of each device (truth.addr6)


def addr(i, family=4):
    """Device i's address: IPv4 (198.18.0.1 onwards) or, family 6, fleetsim's IPv6 twin
    (2001:2:: and the 32 bits of the IPv4 one, RFC 5952 text as ringprobe writes it)."""
    a = BASE + i
    if family == 6:
        return str(ipaddress.IPv6Address(NET6 | a))
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


def fams(family):
    """The families of --family: "4" -> (4,), "6" -> (6,), "both" -> (4, 6)."""
    return {"4": (4,), "6": (6,), "both": (4, 6)}[str(family)]


def family_of(ip):
    return 6 if ":" in ip else 4


def index_of(ip):
    """The device index of an address of either family (IPv6: of 2001:2::/96 only)."""
    if ":" in ip:
        v = int(ipaddress.IPv6Address(ip))
        if v >> 32 != NET6 >> 32:
            return -1
        return (v & 0xFFFFFFFF) - BASE
    p = [int(x) for x in ip.split(".")]
    return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) - BASE


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    return sorted_vals[max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)]


def r1(v):
    return None if v is None else round(v, 1)


# ---- HTTP on loopback ---------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return None, b""


def http_post(url, form, timeout=30):
    return http_post_raw(url, urllib.parse.urlencode(form).encode(), timeout)


def http_post_raw(url, data, timeout=30):
    try:
        with urllib.request.urlopen(url, data=data, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return None, b""


def wait_http(proc, url, ok, what, logf):
    """Waits up to 30 s for url to answer status ok, while proc runs."""
    for _ in range(300):
        if http_get(url, 1)[0] == ok:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    die(f"{what} did not start (see {logf})")
