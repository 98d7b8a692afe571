(function () {
  "use strict";
  var table = document.getElementById("rows-table");
  if (!table || !table.tBodies.length) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var sel = document.getElementById("f-status");
  var q = document.getElementById("f-q");
  var count = document.getElementById("f-count");
  var state = document.getElementById("f-state");
  rows.forEach(function (r, i) { r.setAttribute("data-i", String(i)); });
  document.getElementById("controls").hidden = false;

  function parse(s) {
    var p = {};
    s.replace(/^[#?]/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) {
        try { p[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " ")); } catch (e) { /* ignore a bad escape */ }
      }
    });
    return p;
  }
  function fromURL() {
    var p = parse(location.search), h = parse(location.hash);
    ["status", "q"].forEach(function (k) { if (k in h) { p[k] = h[k]; } });
    return p;
  }
  function setStatus(v) {
    v = v || "";
    var ok = v === "";
    for (var i = 0; i < sel.options.length; i++) { if (sel.options[i].value === v) { ok = true; } }
    if (!ok) { // a status without rows: still a valid filter, it shows nothing
      var o = document.createElement("option");
      o.value = v; o.textContent = v + " (0)";
      sel.appendChild(o);
    }
    sel.value = v;
  }
  function apply() {
    var s = sel.value, t = q.value.trim().toLowerCase(), n = 0;
    rows.forEach(function (r) {
      var show = (!s || r.getAttribute("data-status") === s) && (!t || r.textContent.toLowerCase().indexOf(t) >= 0);
      r.hidden = !show;
      if (show) { n++; }
    });
    count.textContent = n + " of " + rows.length + " rows shown";
    var parts = [];
    if (s) { parts.push("status " + s); }
    if (t) { parts.push("search \u201c" + q.value.trim() + "\u201d"); }
    state.textContent = parts.length ? "(filtered: " + parts.join(", ") + "; " + n + " of " + rows.length + " rows)" : "";
  }
  function toURL() {
    var parts = [];
    if (sel.value) { parts.push("status=" + encodeURIComponent(sel.value)); }
    if (q.value.trim()) { parts.push("q=" + encodeURIComponent(q.value.trim())); }
    try { history.replaceState(null, "", location.pathname + location.search + (parts.length ? "#" + parts.join("&") : "")); } catch (e) { /* file: URLs in some browsers */ }
  }
  var p = fromURL();
  setStatus(p.status);
  q.value = p.q || "";
  apply();
  sel.addEventListener("change", function () { apply(); toURL(); });
  q.addEventListener("input", function () { apply(); toURL(); });
  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) { return; } // a link to a section, not a filter
    var p = fromURL();
    setStatus(p.status);
    q.value = p.q || "";
    apply();
  });

  // Sorting: a button in each column header; a second click reverses; a third restores
  // the input order.
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(r, col, num) {
    var c = r.cells[col];
    var v = c ? (c.getAttribute("data-sort") || c.textContent) : "";
    if (num) { var f = parseFloat(v); return isNaN(f) ? -Infinity : f; }
    return v.toLowerCase();
  }
  function sortBy(col) {
    var th = heads[col], cur = th.getAttribute("aria-sort");
    var next = cur === "ascending" ? "descending" : (cur === "descending" ? "none" : "ascending");
    heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", next);
    var num = th.hasAttribute("data-num"), dir = next === "descending" ? -1 : 1;
    var sorted = rows.slice();
    sorted.sort(function (a, b) {
      var ia = +a.getAttribute("data-i"), ib = +b.getAttribute("data-i");
      if (next === "none") { return ia - ib; }
      var ka = key(a, col, num), kb = key(b, col, num);
      if (ka < kb) { return -dir; }
      if (ka > kb) { return dir; }
      return ia - ib;
    });
    var frag = document.createDocumentFragment();
    sorted.forEach(function (r) { frag.appendChild(r); });
    tbody.appendChild(frag);
  }
  heads.forEach(function (th, i) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = th.textContent;
    b.setAttribute("aria-label", "sort by " + th.textContent);
    b.addEventListener("click", function () { sortBy(i); });
    th.textContent = "";
    th.appendChild(b);
  });
})();
