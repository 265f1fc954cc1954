// kiln studio run report: the confusion-matrix drill-down (also in exported reports) and the
// live-prediction panel (served pages only; POST /api/predict).
(function () {
  "use strict";
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // Probability bars, highest first (Gradio's Label), at most `top` of them.
  function bars(classes, probs, top) {
    var order = probs.map(function (p, i) { return i; });
    order.sort(function (a, b) { return probs[b] - probs[a]; });
    var box = el("div", { "class": "bars" });
    order.slice(0, top).forEach(function (i, rank) {
      var row = el("div", { "class": rank === 0 ? "bar top" : "bar", "data-class": classes[i] });
      row.appendChild(el("span", { "class": "name" }, classes[i]));
      var track = el("div", { "class": "track" });
      var fill = el("div", { "class": "fill" });
      fill.style.width = (100 * probs[i]).toFixed(1) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { "class": "p" }, (100 * probs[i]).toFixed(1) + "%"));
      box.appendChild(row);
    });
    return box;
  }
  window.kilnBars = bars;

  var dataEl = document.getElementById("eval-data");
  var drill = document.getElementById("drill");
  if (dataEl && drill) {
    var data = JSON.parse(dataEl.textContent);
    document.querySelectorAll("td.cell").forEach(function (cell) {
      cell.addEventListener("click", function () {
        document.querySelectorAll("td.cell.selected").forEach(function (c) { c.classList.remove("selected"); });
        cell.classList.add("selected");
        var t = +cell.dataset.true, p = +cell.dataset.pred;
        var hits = data.examples.filter(function (x) { return x.label === t && x.predicted === p; });
        drill.innerHTML = "";
        drill.appendChild(el("h4", {}, "true " + data.classes[t] + ", predicted " + data.classes[p] + ": " +
          hits.length + " of the " + data.evaluated + " evaluation examples (" + cell.textContent +
          " in the whole validation set)"));
        hits.forEach(function (x) {
          var fig = el("figure", { "class": "example", "data-index": x.index });
          if (x.image) fig.appendChild(el("img", { src: x.image, alt: "example " + x.index }));
          fig.appendChild(el("figcaption", {}, "#" + x.index + ": true " + data.classes[x.label]));
          fig.appendChild(bars(data.classes, x.probabilities, 3));
          drill.appendChild(fig);
        });
      });
    });
  }

  var out = document.getElementById("prediction");
  if (!out) return;
  function show(resp) {
    out.innerHTML = "";
    if (resp.error) { out.appendChild(el("p", { "class": "error" }, resp.error)); return; }
    var sum = resp.probabilities.reduce(function (a, b) { return a + b; }, 0);
    out.appendChild(bars(resp.classes, resp.probabilities, resp.classes.length));
    out.appendChild(el("p", { "class": "hint", id: "prob-sum" }, "sum of probabilities: " + sum.toFixed(4)));
    out.dataset.top = resp.classes[resp.probabilities.indexOf(Math.max.apply(null, resp.probabilities))];
    out.dataset.sum = sum;
  }
  function send(blob) {
    out.textContent = "predicting...";
    fetch("/api/predict", { method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" } })
      .then(function (r) { return r.json(); })
      .then(show)
      .catch(function (e) { show({ error: String(e) }); });
  }
  var upload = document.getElementById("upload");
  upload.addEventListener("change", function () { if (upload.files[0]) send(upload.files[0]); });
  var drop = document.getElementById("drop");
  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]);
  });
  var canvas = document.getElementById("draw"), ctx = canvas.getContext("2d"), down = false;
  function clear() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
  clear();
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 18; ctx.lineCap = "round";
  function at(e) { var r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  canvas.addEventListener("pointerdown", function (e) { down = true; var p = at(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]); });
  canvas.addEventListener("pointermove", function (e) { if (!down) return; var p = at(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); });
  window.addEventListener("pointerup", function () { down = false; });
  document.getElementById("clear-drawing").addEventListener("click", clear);
  document.getElementById("predict-drawing").addEventListener("click", function () {
    canvas.toBlob(function (b) { send(b); }, "image/png");
  });
})();
