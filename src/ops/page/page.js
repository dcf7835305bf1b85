// The fleet page's script: refreshes the figures the server rendered into the page
// from /api/v1/summary every 2 s. Everything from the server is set as text
// (textContent), never as HTML. Without this script the page is the same table,
// reloaded every 10 s.
"use strict";

(function () {
  var FMT_U64 = 0, FMT_U32 = 1, FMT_DBL = 2, FMT_BOOL = 3, FMT_BYTES = 4, FMT_SECONDS = 5;

  // "1,048,574", as page.c's put_grouped (not the locale's: the page reads alike
  // everywhere, before and after a refresh).
  function group(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // As page.c's put_text_value, so a refresh changes nothing but the figures.
  function format(v, f) {
    switch (f) {
    case FMT_BOOL:
      return v ? "yes" : "no";
    case FMT_DBL: {
      var tenths = v > 0 ? Math.round(v * 10) : 0;
      return group(Math.floor(tenths / 10)) + "." + (tenths % 10);
    }
    case FMT_BYTES:
      if (v >= 1048576) return (v / 1048576).toFixed(1) + " MiB";
      if (v >= 1024) return (v / 1024).toFixed(1) + " KiB";
      return String(v) + " B";
    case FMT_SECONDS: {
      var t = Math.floor(v > 0 ? v : 0);
      if (t >= 86400) return Math.floor(t / 86400) + "d " + Math.floor((t % 86400) / 3600) + "h";
      if (t >= 3600) return Math.floor(t / 3600) + "h " + Math.floor((t % 3600) / 60) + "m";
      if (t >= 60) return Math.floor(t / 60) + "m " + (t % 60) + "s";
      return t + "s";
    }
    default:
      return group(v);
    }
  }

  function setStatus(text, cls) {
    var el = document.getElementById("status");
    el.textContent = text;
    el.className = cls;
  }

  function apply(sum) {
    var cells = document.querySelectorAll("td[data-k]");
    for (var i = 0; i < cells.length; i++) {
      var path = cells[i].getAttribute("data-k").split(".");
      var sec = sum[path[0]];
      if (!sec || !(path[1] in sec)) continue;
      cells[i].textContent = format(sec[path[1]], Number(cells[i].getAttribute("data-f")));
    }
    setStatus(sum.status, sum.status === "ok" ? "ok" : "degraded");
    document.getElementById("reasons").textContent = (sum.reasons || []).join(", ");
    document.getElementById("version").textContent = sum.version;
    var upd = document.getElementById("updated");
    upd.setAttribute("data-time", String(sum.time));
    upd.textContent = "updated " + new Date(sum.time * 1000).toLocaleTimeString();
    document.documentElement.setAttribute("data-live", "1");
  }

  function refresh() {
    fetch("/api/v1/summary", { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(apply)
      .catch(function (e) {
        setStatus("no answer from the daemon (" + e.message + ")", "degraded");
      });
  }

  refresh();
  setInterval(refresh, 2000);
})();
