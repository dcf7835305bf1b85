// The fleet page's RTT chart and loss map: draws the loss-by-network grid from
// /api/v1/loss (address order, a cell per network coloured by its loss) and redraws
// the RTT chart from /api/v1/rtt, every 10 s. Everything from the server is set as
// text or as an attribute value (textContent, setAttribute), never as HTML. Without
// this script the page shows the same chart (server-rendered SVG) and the loss table.
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var BAR_W = 12, CHART_H = 120, LABEL_H = 16;
  // Cells drawn at most: 16 pages of /api/v1/loss (16,000 networks); the table below
  // the map lists the worst ones of any number.
  var MAX_PAGES = 16, PAGE = 1000;

  function group(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // As page_dist.c's rp_page_loss_class.
  function lossClass(sent, received) {
    if (received >= sent) return 0;
    if (!received) return 5;
    var p = (100 * (sent - received)) / sent;
    return p < 1 ? 1 : p < 5 ? 2 : p < 20 ? 3 : 4;
  }

  function fmt(v) {
    return String(Number(v.toPrecision(6)));
  }

  function drawMap(rows, total) {
    var map = document.getElementById("loss-map");
    if (!map) return;
    var frag = document.createDocumentFragment();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], c = document.createElement("i");
      c.className = "l" + lossClass(r.sent, r.received);
      c.setAttribute("title", r.net + ": " + r.loss_pct.toFixed(2) + "% lost (" +
        group(r.received) + " of " + group(r.sent) + ")");
      frag.appendChild(c);
    }
    while (map.firstChild) map.removeChild(map.firstChild);
    map.appendChild(frag);
    if (rows.length < total) {
      var more = document.createElement("span");
      more.className = "more";
      more.textContent = "first " + group(rows.length) + " of " + group(total) + " networks";
      map.appendChild(more);
    }
    map.hidden = false;
    document.getElementById("s-loss").setAttribute("data-cells", String(rows.length));
  }

  function loadMap() {
    var rows = [], pages = 0;
    function page(url) {
      return fetch(url, { cache: "no-store" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (j) {
          rows = rows.concat(j.rows);
          pages++;
          var lossy = document.getElementById("loss-lossy");
          if (lossy) lossy.textContent = group(j.lossy);
          if (j.next && pages < MAX_PAGES) return page(j.next);
          drawMap(rows, j.networks);
        });
    }
    return page("/api/v1/loss?sort=net&limit=" + PAGE).catch(function () {});
  }

  function svgEl(name, attrs, text) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawRtt(j) {
    var svg = document.getElementById("rtt-chart");
    var sum = document.getElementById("rtt-summary");
    if (!svg || !sum || !j.rtt_ms) return;
    var b = j.buckets, first = -1, last = -1, top = 0;
    for (var i = 0; i < b.length; i++) {
      if (!b[i].count) continue;
      if (first < 0) first = i;
      last = i;
      if (b[i].count > top) top = b[i].count;
    }
    if (first < 0) return;
    sum.textContent = "Last " + Math.round(j.window_s) + " s: " + group(j.received) +
      " replies of " + group(j.sent) + " probes; min " + j.rtt_ms.min.toFixed(3) +
      ", median " + j.rtt_ms.p50.toFixed(3) + ", p90 " + j.rtt_ms.p90.toFixed(3) +
      ", p99 " + j.rtt_ms.p99.toFixed(3) + ", max " + j.rtt_ms.max.toFixed(3) + " ms.";
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + (last - first + 1) * BAR_W + " " + (CHART_H + LABEL_H));
    var lastBound = b[b.length - 2].le_ms;
    for (i = first; i <= last; i++) {
      var h = Math.ceil((b[i].count * CHART_H) / top), x = (i - first) * BAR_W;
      var bound = b[i].le_ms === null ? "> " + fmt(lastBound) : fmt(b[i].le_ms);
      var rect = svgEl("rect", { x: x + 1, y: CHART_H - h, width: BAR_W - 2, height: h });
      rect.appendChild(svgEl("title", {}, (b[i].le_ms === null ? "" : "\u2264 ") + bound +
        " ms: " + group(b[i].count)));
      svg.appendChild(rect);
      if (i === first || i === last || (b[i].le_ms !== null && i % 10 === 0)) {
        var end = i === last && i !== first;
        svg.appendChild(svgEl("text", { x: end ? x + BAR_W : x, y: CHART_H + LABEL_H - 3,
          "text-anchor": end ? "end" : "start" }, fmt(b[i].le_ms === null ? lastBound : b[i].le_ms)));
      }
    }
    var tbody = document.querySelector("#rtt tbody");
    if (tbody) {
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      for (i = first; i <= last; i++) {
        var tr = document.createElement("tr"), a = document.createElement("td"),
          c = document.createElement("td");
        a.textContent = b[i].le_ms === null ? "> " + fmt(lastBound) : fmt(b[i].le_ms);
        c.textContent = group(b[i].count);
        tr.appendChild(a);
        tr.appendChild(c);
        tbody.appendChild(tr);
      }
    }
    document.getElementById("s-rtt").setAttribute("data-replies", String(j.received));
  }

  function loadRtt() {
    return fetch("/api/v1/rtt", { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(drawRtt)
      .catch(function () {});
  }

  function refresh() {
    if (document.getElementById("s-rtt")) loadRtt();
    if (document.getElementById("s-loss")) loadMap();
  }

  refresh();
  setInterval(refresh, 10000);
})();
