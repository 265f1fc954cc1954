// kiln studio: helpers shared by the runs and compare pages.
"use strict";
var kiln = {
  getJSON: function (url) {
    return fetch(url).then(function (r) {
      if (!r.ok) return r.json().then(function (e) { throw new Error(e.error || r.statusText); });
      return r.json();
    });
  },
  el: function (tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  },
  fmt: function (v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : (+v.toFixed(4)).toString();
    return String(v);
  },
  runPath: function (run) { return run.split("/").map(encodeURIComponent).join("/"); },
  colors: ["#ff7043", "#0077bb", "#009988", "#ee3377", "#33bbee", "#cc3311", "#bbbbbb", "#000000"],
  svg: function (tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
};
