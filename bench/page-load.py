#!/usr/bin/env python3
"""The fleet page's load, as a browser does it, against a running daemon's health
server: GET / and then everything the page fetches (its stylesheet and two scripts,
/api/v1/summary, /api/v1/rtt, and /api/v1/loss?sort=net pages of 1,000 networks,
following "next" up to the script's 16 pages), one after the other on fresh
connections, timed from the first request to the last byte. Also times each
/api/v1/* answer on its own (/api/v1/loss worst first, /api/v1/down) and /health as
the baseline. Prints a table and one JSON line (the last line of output).

    bench/page-load.py PORT [RUNS]

Goals (issue 13): the page loads in <= 2 s at 1,048,574 devices; every /api/v1/*
answer is <= 256 KB. Used by `bench/daemon 1m --page`; nothing here is specific to
the fleet's size. Only 127.0.0.1 is asked."""
import json
import statistics
import sys
import time
import urllib.error
import urllib.request

API_MAX = 256 * 1024
PAGE_GOAL_S = 2.0


def get(port, path):
    """(seconds, body, status): /health answers 503 with its JSON while degraded."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            body, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, code = e.read(), e.code
    return time.perf_counter() - t0, body, code


def page_load(port):
    """One page load: every request the page makes, in order. Returns (seconds, bytes,
    requests, per-path [(path, seconds, bytes)])."""
    t0 = time.perf_counter()
    done = []
    for path in ("/", "/page.css", "/page.js", "/dist.js", "/api/v1/summary", "/api/v1/rtt"):
        s, body, _ = get(port, path)
        done.append((path, s, len(body)))
    path, pages = "/api/v1/loss?sort=net&limit=1000", 0
    while path and pages < 16:
        s, body, _ = get(port, path)
        done.append((path, s, len(body)))
        path = json.loads(body).get("next")
        pages += 1
    return time.perf_counter() - t0, sum(d[2] for d in done), len(done), done


def main():
    port = int(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    loads, per = [], {}
    for _ in range(runs):
        secs, nbytes, nreq, done = page_load(port)
        loads.append((secs, nbytes, nreq))
        for path, s, b in done:
            per.setdefault(path, []).append((s, b))
        for path in ("/api/v1/loss", "/api/v1/loss?limit=1000", "/api/v1/down?limit=1000",
                     "/health"):
            s, body, code = get(port, path)
            per.setdefault(path, []).append((s, len(body)))
    base = statistics.median(s for s, _ in per["/health"])
    print(f"{'answer':44} {'bytes':>9} {'median ms':>10} {'max ms':>8} {'x /health':>10}")
    rows = []
    for path, v in per.items():
        med = statistics.median(s for s, _ in v)
        mx = max(s for s, _ in v)
        b = max(b for _, b in v)
        rows.append({"path": path, "bytes": b, "median_ms": round(med * 1e3, 2),
                     "max_ms": round(mx * 1e3, 2), "ratio_to_health": round(med / base, 1)})
        print(f"{path:44} {b:9d} {med * 1e3:10.2f} {mx * 1e3:8.2f} {med / base:10.1f}")
    page_med = statistics.median(s for s, _, _ in loads)
    page_max = max(s for s, _, _ in loads)
    api_max = max(r["bytes"] for r in rows if r["path"].startswith("/api/v1/"))
    print(f"page load (everything the page fetches, {loads[0][2]} requests, {loads[0][1]} bytes): "
          f"median {page_med:.3f} s, max {page_max:.3f} s (goal <= {PAGE_GOAL_S} s) "
          f"{'ok' if page_max <= PAGE_GOAL_S else 'OVER'}")
    print(f"largest /api/v1 answer: {api_max} bytes (goal <= {API_MAX}) "
          f"{'ok' if api_max <= API_MAX else 'OVER'}")
    print(json.dumps({"page_load_median_s": round(page_med, 3), "page_load_max_s": round(page_max, 3),
                      "page_requests": loads[0][2], "page_bytes": loads[0][1],
                      "api_max_bytes": api_max, "health_median_ms": round(base * 1e3, 2),
                      "answers": rows}))


if __name__ == "__main__":
    main()
