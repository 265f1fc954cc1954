// kiln studio compare page: the chosen runs' series of one scalar overlaid (TensorBoard's
// debiased exponential smoothing, log scale, step / relative / wall-time axis), their hparams
// side by side with differences highlighted, and a parallel-coordinates view of hparams and
// the scalar's last value.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var picked = params.getAll("runs");
  var runs = [], series = {};
  var tagSel = document.getElementById("tag"), smooth = document.getElementById("smoothing");
  var logBox = document.getElementById("log"), axisSel = document.getElementById("axis");
  var chart = document.getElementById("chart");

  function smoothed(points, w) {
    var last = 0, n = 0;
    return points.map(function (p) {
      if (!isFinite(p.value)) return { x: p, y: p.value };
      last = last * w + (1 - w) * p.value; n++;
      return { x: p, y: w > 0 ? last / (1 - Math.pow(w, n)) : p.value };
    });
  }
  function draw() {
    var w = 760, h = 360, L = 64, R = 16, T = 16, B = 40;
    var axis = axisSel.value, log = logBox.checked, sw = +smooth.value;
    document.getElementById("smoothing-value").textContent = sw.toFixed(2);
    var lines = [], xs = [], ys = [];
    picked.forEach(function (run, i) {
      var pts = series[run] || [];
      if (!pts.length) return;
      var t0 = pts[0].wall_time;
      var line = smoothed(pts, sw).map(function (q) {
        var x = axis === "step" ? q.x.step : axis === "relative" ? q.x.wall_time - t0 : q.x.wall_time * 1000;
        var y = log ? (q.y > 0 ? Math.log10(q.y) : NaN) : q.y;
        return [x, y];
      }).filter(function (p) { return isFinite(p[1]); });
      line.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
      lines.push({ run: run, color: kiln.colors[i % kiln.colors.length], pts: line });
    });
    chart.innerHTML = "";
    var svg = kiln.svg("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, "class": "chart" });
    chart.appendChild(svg);
    if (!xs.length) { var t = kiln.svg("text", { x: 80, y: 150 }); t.textContent = "no points for this tag"; svg.appendChild(t); return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x1 === x0) x1 = x0 + 1; if (y1 - y0 < 1e-12) y1 = y0 + 1;
    var sx = function (x) { return L + (x - x0) / (x1 - x0) * (w - L - R); };
    var sy = function (y) { return T + (1 - (y - y0) / (y1 - y0)) * (h - T - B); };
    // Relative time in the unit that suits the span: seconds, minutes or hours.
    var unit = x1 < 120 ? [1, "s"] : x1 < 7200 ? [60, "min"] : [3600, "h"];
    function label(v, isX) {
      if (isX && axis === "wall") return new Date(v).toLocaleTimeString();
      if (isX && axis === "relative") return +(v / unit[0]).toFixed(2) + " " + unit[1];
      if (!isX && log) return "1e" + v.toFixed(2);
      return kiln.fmt(v);
    }
    svg.appendChild(kiln.svg("line", { x1: L, y1: h - B, x2: w - R, y2: h - B, stroke: "#888" }));
    svg.appendChild(kiln.svg("line", { x1: L, y1: T, x2: L, y2: h - B, stroke: "#888" }));
    [[x0, L, h - B + 16, "start"], [x1, w - R, h - B + 16, "end"]].forEach(function (a) {
      var t = kiln.svg("text", { x: a[1], y: a[2], "class": "tick", "text-anchor": a[3] }); t.textContent = label(a[0], true); svg.appendChild(t);
    });
    [[y1, T + 8], [y0, h - B]].forEach(function (a) {
      var t = kiln.svg("text", { x: L - 4, y: a[1], "class": "tick", "text-anchor": "end" }); t.textContent = label(a[0], false); svg.appendChild(t);
    });
    var xl = kiln.svg("text", { x: w / 2, y: h - 6, "class": "tick", "text-anchor": "middle" });
    xl.textContent = axis === "step" ? "step" : axis === "relative" ? "time since the run's first point" : "wall time";
    svg.appendChild(xl);
    lines.forEach(function (l) {
      svg.appendChild(kiln.svg("polyline", {
        "class": "series", "data-run": l.run, fill: "none", stroke: l.color, "stroke-width": 2,
        points: l.pts.map(function (p) { return sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ")
      }));
    });
    var legend = document.getElementById("legend"); legend.innerHTML = "";
    lines.forEach(function (l) {
      var s = kiln.el("span", { "class": "legend-item" }, "■ " + l.run); s.style.color = l.color; legend.appendChild(s); legend.appendChild(document.createTextNode("  "));
    });
    parallel();
  }
  function loadSeries() {
    var tag = tagSel.value;
    Promise.all(picked.map(function (run) {
      return kiln.getJSON("/api/runs/" + kiln.runPath(run) + "/scalars?tag=" + encodeURIComponent(tag))
        .then(function (r) { series[run] = r.points; }, function () { series[run] = []; });
    })).then(draw);
  }
  function hparamTable() {
    var table = document.getElementById("hparams"); table.innerHTML = "";
    var head = kiln.el("tr"); head.appendChild(kiln.el("th", {}, "hparam"));
    var chosen = runs.filter(function (r) { return picked.indexOf(r.name) >= 0; });
    chosen.forEach(function (r) { head.appendChild(kiln.el("th", {}, r.name)); });
    table.appendChild(head);
    var names = {};
    chosen.forEach(function (r) { Object.keys(r.hparams).forEach(function (k) { names[k] = 1; }); });
    Object.keys(names).sort().forEach(function (k) {
      var vals = chosen.map(function (r) { return r.hparams[k]; });
      var differ = vals.some(function (v) { return JSON.stringify(v) !== JSON.stringify(vals[0]); });
      var tr = kiln.el("tr", { "class": differ ? "diff" : "same", "data-hparam": k });
      tr.appendChild(kiln.el("td", {}, k));
      vals.forEach(function (v) { tr.appendChild(kiln.el("td", {}, v === undefined ? "—" : kiln.fmt(v))); });
      table.appendChild(tr);
    });
  }
  function parallel() {
    var box = document.getElementById("parallel"); box.innerHTML = "";
    var chosen = runs.filter(function (r) { return picked.indexOf(r.name) >= 0; });
    var names = {};
    chosen.forEach(function (r) { Object.keys(r.hparams).forEach(function (k) { names[k] = 1; }); });
    var axes = Object.keys(names).sort().map(function (k) {
      var vals = chosen.map(function (r) { return r.hparams[k]; });
      var cats = vals.filter(function (v) { return typeof v !== "number"; }).map(String);
      cats = cats.filter(function (v, i) { return cats.indexOf(v) === i; });
      return { name: k, get: function (r) { var v = r.hparams[k]; return typeof v === "number" ? v : v === undefined ? NaN : cats.indexOf(String(v)); }, cats: cats };
    });
    axes.push({ name: tagSel.value + " (last)", get: function (r) { var s = series[r.name] || []; return s.length ? s[s.length - 1].value : NaN; }, cats: [] });
    var w = Math.max(420, 170 * axes.length), h = 240, T = 24, B = 24;
    var svg = kiln.svg("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, "class": "chart parallel" });
    box.appendChild(svg);
    var xs = axes.map(function (a, i) { return 90 + i * (w - 180) / Math.max(1, axes.length - 1); });
    var ranges = axes.map(function (a) {
      var v = chosen.map(a.get).filter(isFinite);
      var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
      return v.length ? [lo, hi > lo ? hi : lo + 1] : [0, 1];
    });
    axes.forEach(function (a, i) {
      svg.appendChild(kiln.svg("line", { x1: xs[i], y1: T, x2: xs[i], y2: h - B, stroke: "#888" }));
      var t = kiln.svg("text", { x: xs[i], y: 14, "class": "tick", "text-anchor": "middle" }); t.textContent = a.name; svg.appendChild(t);
    });
    chosen.forEach(function (r) {
      var i = picked.indexOf(r.name);
      var pts = axes.map(function (a, k) {
        var v = a.get(r); if (!isFinite(v)) return null;
        return xs[k].toFixed(1) + "," + (T + (1 - (v - ranges[k][0]) / (ranges[k][1] - ranges[k][0])) * (h - T - B)).toFixed(1);
      }).filter(Boolean);
      svg.appendChild(kiln.svg("polyline", { "class": "pc-line", "data-run": r.name, fill: "none", stroke: kiln.colors[i % kiln.colors.length], "stroke-width": 2, points: pts.join(" ") }));
    });
  }
  function pickers() {
    var box = document.getElementById("pickers"); box.innerHTML = "";
    runs.forEach(function (r) {
      var l = kiln.el("label"), c = kiln.el("input", { type: "checkbox", value: r.name });
      c.checked = picked.indexOf(r.name) >= 0;
      c.addEventListener("change", function () {
        picked = runs.map(function (x) { return x.name; }).filter(function (n) {
          return n === r.name ? c.checked : picked.indexOf(n) >= 0;
        });
        history.replaceState(null, "", "/compare?" + picked.map(function (p) { return "runs=" + encodeURIComponent(p); }).join("&"));
        start();
      });
      l.appendChild(c); l.appendChild(document.createTextNode(" " + r.name + "  ")); box.appendChild(l);
    });
  }
  function start() {
    hparamTable();
    Promise.all(picked.map(function (run) { return kiln.getJSON("/api/runs/" + kiln.runPath(run) + "/tags").catch(function () { return { scalars: [] }; }); }))
      .then(function (all) {
        var tags = {};
        all.forEach(function (t) { t.scalars.forEach(function (s) { tags[s] = 1; }); });
        var keep = tagSel.value, names = Object.keys(tags).sort();
        tagSel.innerHTML = "";
        names.forEach(function (n) { tagSel.appendChild(kiln.el("option", { value: n }, n)); });
        var pref = ["validation/epoch_loss", "train/epoch_loss"].filter(function (n) { return tags[n]; })[0];
        tagSel.value = tags[keep] ? keep : (pref || names[0] || "");
        loadSeries();
      });
  }
  [tagSel].forEach(function (e) { e.addEventListener("change", loadSeries); });
  [smooth, logBox, axisSel].forEach(function (e) { e.addEventListener("input", draw); e.addEventListener("change", draw); });
  kiln.getJSON("/api/runs").then(function (r) {
    runs = r;
    if (!picked.length) picked = runs.slice(0, 2).map(function (x) { return x.name; });
    pickers(); start();
  });
})();
