// The tenant tree and table of a tenantkit report. The census is JSON in
// #tk-data (see censusData in view.go); every name reaches the page as
// text (textContent), never as markup. The tree builds a node's children
// only when it is expanded, PAGE at a time, and the table shows one page:
// the page stays fast with tens of thousands of tenants.
(function () {
  "use strict";
  var started = performance.now();
  var PAGE = 100;
  var errors = document.getElementById("tk-errors");

  function finish() {
    var ms = document.getElementById("tk-render-ms");
    ms.dataset.ms = String(Math.round(performance.now() - started));
    ms.dataset.load = String(Math.round(performance.now()));
    ms.textContent = "tenant section drawn in " + ms.dataset.ms + " ms";
    showErrors();
  }
  function showErrors() {
    errors.textContent = window.tkErrors.join("\n");
    errors.hidden = window.tkErrors.length === 0;
    document.body.dataset.errors = String(window.tkErrors.length);
  }
  window.addEventListener("load", showErrors);

  var dataEl = document.getElementById("tk-data");
  if (!dataEl) { finish(); return; }
  var D = JSON.parse(dataEl.textContent);
  var n = D.names.length, m = D.objects.length;

  var fmt = function (x) { return x.toLocaleString("en-US"); };
  var total = new Array(n), kids = new Array(n), roots = [];
  for (var i = 0; i < n; i++) {
    var s = 0, r = D.rows[i];
    for (var j = 0; j < m; j++) s += r[j];
    total[i] = s;
    kids[i] = [];
  }
  for (i = 0; i < n; i++) {
    if (D.parents[i] >= 0) kids[D.parents[i]].push(i); else roots.push(i);
  }

  var obj = -1; // the object shown: -1 for all of them
  var rowsOf = function (t) { return obj < 0 ? total[t] : D.rows[t][obj]; };
  var maxRows = 1;
  function measure() {
    maxRows = 1;
    for (var t = 0; t < n; t++) if (rowsOf(t) > maxRows) maxRows = rowsOf(t);
  }
  function largestFirst(list) {
    return list.slice().sort(function (a, b) {
      return rowsOf(b) - rowsOf(a) || (D.names[a] < D.names[b] ? -1 : D.names[a] > D.names[b] ? 1 : 0);
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bar(t) {
    var b = el("span", "bar"), f = el("span");
    f.style.width = (100 * rowsOf(t) / maxRows).toFixed(2) + "%";
    b.appendChild(f);
    return b;
  }
  var flagText = { s: "SP", i: "inactive", c: "cycle" };
  var flagTitle = { s: "the service provider", i: "inactive", c: "on a cycle of parent links" };
  function flags(t, names) {
    var out = [];
    for (var k = 0; k < D.flags[t].length; k++) out.push(names[D.flags[t][k]]);
    return out.join(", ");
  }

  // The tree.
  var tree = document.getElementById("tk-tree");
  var expanded = new Set(roots);
  function node(t) {
    var li = el("li", "node");
    li.setAttribute("role", "treeitem");
    li.dataset.tenant = D.names[t];
    li.dataset.index = String(t);
    var line = el("div", "line");
    var tog = el("button", "tog");
    tog.type = "button";
    tog.disabled = kids[t].length === 0;
    var name = el("span", "name", D.names[t]);
    name.title = D.names[t] + " (key " + D.keys[t] + ")";
    if (D.flags[t]) {
      var f = el("span", "flag", flags(t, flagText));
      f.title = flags(t, flagTitle);
      name.appendChild(f);
    }
    line.appendChild(tog);
    line.appendChild(name);
    line.appendChild(bar(t));
    line.appendChild(el("span", "n", fmt(rowsOf(t))));
    li.appendChild(line);
    tog.addEventListener("click", function () { toggle(li, t); });
    if (kids[t].length > 0 && expanded.has(t)) open(li, t); else close(li, t);
    return li;
  }
  function open(li, t) {
    expanded.add(t);
    li.setAttribute("aria-expanded", "true");
    li.querySelector(".tog").textContent = "▾";
    var ul = el("ul");
    ul.setAttribute("role", "group");
    li.appendChild(ul);
    fill(ul, largestFirst(kids[t]), 0);
  }
  function close(li, t) {
    expanded.delete(t);
    if (kids[t].length > 0) li.setAttribute("aria-expanded", "false");
    li.querySelector(".tog").textContent = kids[t].length ? "▸" : "";
    var ul = li.querySelector(":scope > ul");
    if (ul) li.removeChild(ul); // collapsed children are not kept in the page
  }
  function toggle(li, t) { if (expanded.has(t)) close(li, t); else open(li, t); }
  // fill appends the list from index from, PAGE at a time.
  function fill(ul, list, from) {
    var frag = document.createDocumentFragment();
    var to = Math.min(list.length, from + PAGE);
    for (var k = from; k < to; k++) frag.appendChild(node(list[k]));
    if (to < list.length) {
      var more = el("li", "more"), b = el("button", "", "show " + fmt(Math.min(PAGE, list.length - to)) + " more of " + fmt(list.length - to));
      b.type = "button";
      b.addEventListener("click", function () { ul.removeChild(more); fill(ul, list, to); });
      more.appendChild(b);
      frag.appendChild(more);
    }
    ul.appendChild(frag);
  }
  function drawTree() {
    tree.textContent = "";
    fill(tree, largestFirst(roots), 0);
  }

  // The table.
  var table = document.getElementById("tk-table");
  var thead = table.tHead, tbody = table.tBodies[0];
  var pageLabel = document.getElementById("tk-page");
  var prev = document.getElementById("tk-prev"), next = document.getElementById("tk-next");
  var filter = document.getElementById("tk-filter");
  // columns: tenant, parent, total, then one per object.
  var cols = [
    { label: "tenant", key: function (t) { return D.names[t]; }, text: true },
    { label: "parent", key: function (t) { return D.parents[t] >= 0 ? D.names[D.parents[t]] : ""; }, text: true },
    { label: "rows", key: function (t) { return total[t]; } }
  ];
  D.objects.forEach(function (name, j) {
    cols.push({ label: name, key: function (t) { return D.rows[t][j]; } });
  });
  var sortCol = 2, sortDesc = true, page = 0, shown = [];
  var headRow = el("tr");
  cols.forEach(function (c, k) {
    var th = el("th", c.text ? "" : "n", c.label);
    th.dataset.col = String(k);
    th.addEventListener("click", function () {
      if (sortCol === k) sortDesc = !sortDesc; else { sortCol = k; sortDesc = !c.text; }
      page = 0;
      sortRows();
      drawTable();
    });
    headRow.appendChild(th);
  });
  thead.appendChild(headRow);
  function select() {
    var q = filter.value.trim().toLowerCase();
    shown = [];
    for (var t = 0; t < n; t++) {
      if (!q || D.names[t].toLowerCase().indexOf(q) >= 0 || D.keys[t].toLowerCase() === q) shown.push(t);
    }
    sortRows();
  }
  function sortRows() {
    var key = cols[sortCol].key, text = cols[sortCol].text, sign = sortDesc ? -1 : 1;
    var keys = new Array(n);
    shown.forEach(function (t) { keys[t] = key(t); });
    shown.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      var c = text ? (x < y ? -1 : x > y ? 1 : 0) : x - y;
      return sign * c || a - b;
    });
  }
  function drawTable() {
    Array.prototype.forEach.call(headRow.children, function (th, k) {
      if (k === sortCol) th.setAttribute("aria-sort", sortDesc ? "descending" : "ascending"); else th.removeAttribute("aria-sort");
    });
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    var frag = document.createDocumentFragment();
    var from = page * PAGE, to = Math.min(shown.length, from + PAGE);
    for (var k = from; k < to; k++) {
      var t = shown[k], tr = el("tr");
      tr.dataset.tenant = D.names[t];
      cols.forEach(function (c, ci) {
        var v = c.key(t);
        var td = el("td", c.text ? "" : "n", c.text ? v : fmt(v));
        if (ci === 0) td.title = "key " + D.keys[t];
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
    pageLabel.textContent = shown.length ? fmt(from + 1) + "–" + fmt(to) + " of " + fmt(shown.length) : "no tenant matches";
    pageLabel.dataset.total = String(shown.length);
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  prev.addEventListener("click", function () { page--; drawTable(); });
  next.addEventListener("click", function () { page++; drawTable(); });
  filter.addEventListener("input", function () { page = 0; select(); drawTable(); });

  var objSelect = document.getElementById("tk-object");
  D.objects.forEach(function (name, j) {
    var o = el("option", "", name);
    o.value = String(j);
    objSelect.appendChild(o);
  });
  objSelect.addEventListener("change", function () {
    obj = Number(objSelect.value);
    measure();
    drawTree();
    if (obj >= 0) { sortCol = 3 + obj; sortDesc = true; sortRows(); }
    drawTable();
  });

  measure();
  drawTree();
  select();
  drawTable();
  finish();
})();
