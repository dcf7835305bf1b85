"""fleetsim's own account of a run: its truth file and its reply records.

Everything the scoring needs to know about what fleetsim drew comes from here, never from a
copy of its random number generator: the truth file has, per device, down / flap (with
flap_phase_ns), snmp_agent / snmp_slow, the sys_* values its agent answers and
sys_uptime_start; its "options" say what fleetsim was told; the reply records (--replies)
have the latency drawn for each reply and the hold applied on the wire. The formats are in
bench/fleetsim/fleetsim.c's header comment and `fleetsim --help`.

With fleetsim --family 6 or both, options.family says which ("6", "both"; absent: IPv4
only), each device has addr6 (addr6() of its IPv4 address) and "answers", the addresses it
answered on; answers() gives them for any truth file.
"""
import ipaddress
import json
import struct

M64 = (1 << 64) - 1

# The keys the scoring reads: a truth file without them comes from another fleetsim.
TOTALS_KEYS = ("devices", "seed", "requests", "replies", "drops", "drops_loss", "drops_down",
               "drops_flap", "drops_queue", "latency_sum_us", "down_devices", "flap_devices",
               "stray", "max_late_us", "elapsed_us")
DEVICE_KEYS = ("addr", "down", "flap", "requests", "replies", "latency_sum_us", "snmp_agent",
               "snmp_slow", "snmp_requests", "snmp_answered", "sys_name", "sys_descr",
               "sys_object_id", "sys_location", "sys_contact", "sys_uptime_start",
               "flap_phase_ns")
OPTIONS_KEYS = ("base", "latency", "latency_a_us", "latency_b_us", "loss_pct", "down_pct",
                "flap_pct", "flap_period_ns", "snmp_none", "snmp_slow", "snmp_delay_ns")


NET6 = 0x20010002 << 96  # 2001:2::/96: fleetsim's IPv6 twin of each device address


class TruthError(ValueError):
    pass


def addr6(v4):
    """The IPv6 address fleetsim --family 6|both answers on for IPv4 address v4 (dotted or
    int): 2001:2:: followed by its 32 bits (198.18.0.1: 2001:2::c612:1)."""
    if isinstance(v4, str):
        v4 = int(ipaddress.IPv4Address(v4))
    return str(ipaddress.IPv6Address(NET6 | v4))


def families(t):
    """The address families the fleet of truth t answered on: (4,), (6,) or (4, 6)."""
    return {None: (4,), "6": (6,), "both": (4, 6)}[t["options"].get("family")]


def answers(t, i):
    """The addresses device i of truth t answered on: its addr, addr6 or both."""
    d = t["devices"][i]
    return d.get("answers", [d["addr"]])


def check_truth(t, where="truth"):
    """Raises TruthError unless t has every key the scoring reads, one device per address
    from options.base on."""
    if not isinstance(t, dict):
        raise TruthError(f"{where}: not a JSON object")
    for part, keys in (("totals", TOTALS_KEYS), ("options", OPTIONS_KEYS)):
        got = t.get(part)
        if not isinstance(got, dict):
            raise TruthError(f"{where}: no \"{part}\" object (a fleetsim older than its "
                             f"draws in the truth file? rebuild it)")
        missing = [k for k in keys if k not in got]
        if missing:
            raise TruthError(f"{where}: {part} lacks {', '.join(missing)}")
    devs = t.get("devices")
    if not isinstance(devs, list) or len(devs) != t["totals"]["devices"]:
        raise TruthError(f"{where}: \"devices\" is not a list of totals.devices entries")
    b = [int(x) for x in t["options"]["base"].split(".")]
    base = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    fam = t["options"].get("family")
    if fam not in (None, "6", "both"):
        raise TruthError(f"{where}: options.family {fam!r} is neither \"6\" nor \"both\"")
    for i, d in enumerate(devs):
        missing = [k for k in DEVICE_KEYS if k not in d]
        if missing:
            raise TruthError(f"{where}: device {i} lacks {', '.join(missing)}")
        a = base + i
        if d["addr"] != f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}":
            raise TruthError(f"{where}: device {i} is {d['addr']}, not base + {i}")
        if fam is None:
            continue
        want = ([d["addr"]] if fam == "both" else []) + [addr6(a)]
        if d.get("addr6") != addr6(a) or d.get("answers") != want:
            raise TruthError(f"{where}: device {i} ({d['addr']}) has addr6 "
                             f"{d.get('addr6')} and answers {d.get('answers')}, not {want}")
    return t


def read_truth(path):
    """fleetsim's truth file, checked by check_truth(); TruthError if it is not one."""
    try:
        with open(path) as f:
            t = json.load(f)
    except (OSError, ValueError) as e:
        raise TruthError(f"{path}: {e}") from None
    return check_truth(t, path)


def read_replies(path, v6_keys=None):
    """fleetsim --replies FILE: {(device << 32) | k: (drawn_us, wire_hold_ns or None)}, k the
    request's number at the device. TruthError if it is not such a file. With a set v6_keys,
    the keys of the ICMPv6 exchanges (flag bit 2) are added to it."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:8] != b"fsreply1":
        raise TruthError(f"{path}: not a fleetsim replies file")
    size = struct.unpack_from("<I", data, 8)[0]
    if size != 24 or (len(data) - 16) % size:
        raise TruthError(f"{path}: record size {size}, file size {len(data)}: truncated or "
                         f"another format")
    out = {}
    for dev, k, lat, flags, hold in struct.iter_unpack("<IIIIQ", memoryview(data)[16:]):
        out[(dev << 32) | k] = (lat, None if hold == M64 else hold)
        if v6_keys is not None and flags & 4:
            v6_keys.add((dev << 32) | k)
    return out


def replies_disagree(truth, wire):
    """Why the reply records do not account for the truth's replies, or None: one record per
    reply (totals.replies) and their drawn latencies sum to totals.latency_sum_us."""
    t = truth["totals"]
    n, s = len(wire), sum(lat for lat, _ in wire.values())
    if n != t["replies"] or s != t["latency_sum_us"]:
        return (f"{n:,} reply records with a latency sum of {s:,} us; the truth has "
                f"{t['replies']:,} replies, {t['latency_sum_us']:,} us")
    return None


def uptime_window(truth, i):
    """sysUpTime (1/100 s) device i could answer: from its value at fleetsim's start to that
    plus fleetsim's running time when it wrote the truth (after the last request)."""
    u0 = truth["devices"][i]["sys_uptime_start"]
    return u0, u0 + truth["totals"]["elapsed_us"] / 1e4
