// kiln studio runs page: every run with its hparams and last / best metrics, filterable,
// sortable by any column, refreshed every 5 s; the selected runs open in Compare.
(function () {
  "use strict";
  var state = { sort: "run", desc: false, selected: {}, runs: [] };
  var table = document.getElementById("runs"), filter = document.getElementById("filter");
  var metricOrder = ["validation/epoch_accuracy", "validation/epoch_loss", "train/epoch_accuracy", "train/epoch_loss"];
  function value(run, col) {
    if (col === "run") return run.name;
    if (col === "status") return run.status || "";
    if (col.indexOf("hp:") === 0) { var v = run.hparams[col.slice(3)]; return v === undefined ? null : v; }
    var m = col.split("@"), s = run.metrics[m[0]];
    return s ? s[m[1]] : null;
  }
  function render() {
    var runs = state.runs, q = filter.value.toLowerCase();
    var hps = {}, metrics = {};
    runs.forEach(function (r) {
      Object.keys(r.hparams).forEach(function (k) { hps[k] = 1; });
      Object.keys(r.metrics).forEach(function (k) { metrics[k] = 1; });
    });
    var mcols = metricOrder.filter(function (m) { return metrics[m]; });
    var cols = ["run", "status"].concat(Object.keys(hps).sort().map(function (k) { return "hp:" + k; }));
    mcols.forEach(function (m) { cols.push(m + "@last", m + "@best"); });
    var shown = runs.filter(function (r) {
      return !q || (r.name + " " + JSON.stringify(r.hparams)).toLowerCase().indexOf(q) >= 0;
    });
    shown.sort(function (a, b) {
      var x = value(a, state.sort), y = value(b, state.sort), c;
      if (x === null) return 1; if (y === null) return -1;
      c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return state.desc ? -c : c;
    });
    table.innerHTML = "";
    var head = kiln.el("tr");
    head.appendChild(kiln.el("th", {}, ""));
    cols.forEach(function (c) {
      var label = c.replace("hp:", "").replace("@", " ") + (state.sort === c ? (state.desc ? " ▼" : " ▲") : "");
      var th = kiln.el("th", { "class": "sortable", "data-col": c }, label);
      th.addEventListener("click", function () {
        state.desc = state.sort === c ? !state.desc : false; state.sort = c; render();
      });
      head.appendChild(th);
    });
    table.appendChild(head);
    shown.forEach(function (r) {
      var tr = kiln.el("tr", { "class": "run", "data-run": r.name });
      var box = kiln.el("input", { type: "checkbox", "class": "pick", value: r.name });
      box.checked = !!state.selected[r.name];
      box.addEventListener("change", function () { state.selected[r.name] = box.checked; });
      var td = kiln.el("td"); td.appendChild(box); tr.appendChild(td);
      cols.forEach(function (c) {
        var v = value(r, c), cell = kiln.el("td", { "class": typeof v === "number" ? "num" : "" });
        if (c === "run") {
          cell.appendChild(kiln.el("a", { href: "/report?run=" + encodeURIComponent(r.name) }, r.name));
        } else cell.textContent = kiln.fmt(v);
        tr.appendChild(cell);
      });
      table.appendChild(tr);
    });
    document.getElementById("count").textContent = shown.length + " of " + runs.length + " runs";
  }
  function load() {
    kiln.getJSON("/api/runs").then(function (runs) { state.runs = runs; render(); })
      .catch(function (e) { document.getElementById("count").textContent = "error: " + e.message; });
  }
  filter.addEventListener("input", render);
  document.getElementById("compare").addEventListener("click", function () {
    var picked = Object.keys(state.selected).filter(function (k) { return state.selected[k]; });
    location.href = "/compare?" + picked.map(function (r) { return "runs=" + encodeURIComponent(r); }).join("&");
  });
  load();
  setInterval(load, 5000);
})();
