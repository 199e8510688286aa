/* dbt-sync report: builds the page from the JSON in #dbt-sync-report-data.
   Every value is put in the page as text (textContent), never as HTML. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("dbt-sync-report-data").textContent);
  var PAGE = 50;
  var RUN = {};
  DATA.run_columns.forEach(function (c, i) { RUN[c] = i; });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function when(iso) { return iso ? iso.replace("T", " ").replace("Z", " UTC") : "-"; }
  function num(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }
  function secs(run) {
    var s = run[RUN.started_at], f = run[RUN.finished_at];
    return s && f ? Math.max(0, (Date.parse(f) - Date.parse(s)) / 1000) : null;
  }

  function health(sync) {
    var h = sync.health;
    if (h && h.state === "failing") return { failing: true, text: "failing since " + when(h.since) };
    if (h && h.state === "healthy") return { failing: false, text: "healthy" };
    if (!sync.last_run) return { failing: false, text: "no runs yet", none: true };
    if (sync.last_run.status === "error" || sync.open_failures > 0) return { failing: true, text: "failing" };
    return { failing: false, text: "healthy" };
  }
  function badge(sync) {
    var h = health(sync);
    return el("span", { cls: "badge " + (h.none ? "none" : h.failing ? "bad" : "good"), text: h.text });
  }

  function table(headers, rows, cls) {
    var head = el("tr", {}, headers.map(function (h) { return el("th", { text: h }); }));
    var body = el("tbody", {}, rows);
    return el("table", { cls: cls || "" }, [el("thead", {}, [head]), body]);
  }
  function cells(values) {
    return values.map(function (v) {
      return v instanceof Node ? el("td", {}, [v]) : el("td", { text: v === null || v === undefined ? "" : String(v) });
    });
  }

  // -- overview --------------------------------------------------------------------------------
  function overview() {
    var rows = DATA.syncs.map(function (s) {
      var r = s.last_run;
      var link = el("a", { href: "#sync-" + s.name, text: s.name });
      return el("tr", { "data-sync": s.name }, cells([
        link, s.destination, s.object, s.mode, badge(s),
        r ? r.status + ", " + when(r.started_at) : "-",
        r ? num(r.attempted) : "-", r ? num(r.succeeded) : "-", r ? num(r.failed) : "-", num(s.open_failures)
      ]));
    });
    return table(["Sync", "Destination", "Object", "Mode", "Health", "Last run", "Attempted", "Succeeded",
                  "Failed", "Open failures"], rows, "overview");
  }

  function graph() {
    var NS = "http://www.w3.org/2000/svg";
    var W = 210, H = 34, GX = 70, GY = 16, pos = {};
    var tallest = 0;
    DATA.stages.forEach(function (stage, i) {
      stage.forEach(function (name, j) { pos[name] = { x: 10 + i * (W + GX), y: 28 + j * (H + GY) }; });
      tallest = Math.max(tallest, stage.length);
    });
    var svg = document.createElementNS(NS, "svg");
    var width = 20 + DATA.stages.length * (W + GX) - GX, height = 40 + tallest * (H + GY);
    svg.setAttribute("width", Math.max(width, 200));
    svg.setAttribute("height", height);
    svg.setAttribute("class", "plan");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "The plan's stages and the dependencies between syncs");
    function s(tag, attrs, text) {
      var n = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text !== undefined) n.textContent = text;
      svg.appendChild(n);
      return n;
    }
    var defs = s("defs", {});
    var marker = document.createElementNS(NS, "marker");
    [["id", "arrow"], ["viewBox", "0 0 10 10"], ["refX", "10"], ["refY", "5"], ["markerWidth", "7"],
     ["markerHeight", "7"], ["orient", "auto"]].forEach(function (a) { marker.setAttribute(a[0], a[1]); });
    var tip = document.createElementNS(NS, "path");
    tip.setAttribute("d", "M0,0 L10,5 L0,10 z");
    tip.setAttribute("fill", "#667085");
    marker.appendChild(tip);
    defs.appendChild(marker);
    DATA.stages.forEach(function (stage, i) {
      s("text", { x: 10 + i * (W + GX), y: 16, "class": "stage" }, "Stage " + (i + 1));
    });
    DATA.edges.forEach(function (e) {
      var a = pos[e.from], b = pos[e.to];
      if (!a || !b) return;
      var x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      var path = s("path", { d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2,
                             "class": "edge", "marker-end": "url(#arrow)" });
      var title = document.createElementNS(NS, "title");
      title.textContent = e.to + " after " + e.from + " (" + e.kind + "): " + e.reason;
      path.appendChild(title);
    });
    DATA.syncs.forEach(function (sync) {
      var p = pos[sync.name];
      if (!p) return;
      var link = s("a", { href: "#sync-" + sync.name });
      var h = health(sync);
      var rect = document.createElementNS(NS, "rect");
      [["x", p.x], ["y", p.y], ["width", W], ["height", H], ["rx", 6],
       ["class", "node " + (h.none ? "none" : h.failing ? "bad" : "good")]].forEach(function (a) {
        rect.setAttribute(a[0], a[1]);
      });
      var label = document.createElementNS(NS, "text");
      label.setAttribute("x", p.x + 10);
      label.setAttribute("y", p.y + 21);
      label.textContent = sync.name.length > 28 ? sync.name.slice(0, 27) + "…" : sync.name;
      var title = document.createElementNS(NS, "title");
      title.textContent = sync.name + ": " + h.text;
      link.appendChild(rect);
      link.appendChild(label);
      link.appendChild(title);
    });
    return svg;
  }

  // -- per sync ---------------------------------------------------------------------------------
  function chart(target, title, series, columns) {
    var box = el("div", { cls: "chart", "data-chart": title });
    target.appendChild(box);
    if (typeof uPlot === "undefined" || columns[0].length === 0) {
      box.appendChild(el("p", { cls: "muted", text: "No runs in this window." }));
      return;
    }
    var width = Math.max(320, Math.min(box.clientWidth || 900, 1100));
    new uPlot({
      title: title, width: width, height: 200,
      scales: { x: { time: true } },
      legend: { live: false },
      series: [{}].concat(series.map(function (s) {
        return { label: s[0], stroke: s[1], width: 2, points: { show: columns[0].length < 60 } };
      }))
    }, columns, box);
  }

  function runCharts(target, sync) {
    var runs = sync.runs.slice().reverse();  // oldest first
    var xs = runs.map(function (r) { return Date.parse(r[RUN.started_at]) / 1000; });
    function col(name) { return runs.map(function (r) { return r[RUN[name]]; }); }
    chart(target, "Records per run", [["attempted", "#1d4ed8"], ["succeeded", "#067647"], ["failed", "#b42318"]],
          [xs, col("attempted"), col("succeeded"), col("failed")]);
    chart(target, "Run duration (seconds)", [["duration", "#6941c6"]], [xs, runs.map(secs)]);
  }

  function failuresTable(sync) {
    var wrap = el("div", { cls: "failures" });
    var rows = sync.failures;
    var search = el("input", { type: "search", placeholder: "Search by record key", "aria-label": "Search by record key",
                               cls: "search" });
    var codes = {};
    rows.forEach(function (r) { codes[r[1]] = true; });
    sync.error_codes.forEach(function (c) { codes[c.code] = true; });
    var select = el("select", { "aria-label": "Filter by error code", cls: "code-filter" },
      [el("option", { value: "", text: "All error codes" })].concat(Object.keys(codes).sort().map(function (c) {
        return el("option", { value: c, text: c });
      })));
    var body = el("tbody");
    var info = el("span", { cls: "pager-info" });
    var prev = el("button", { type: "button", text: "Previous" });
    var next = el("button", { type: "button", text: "Next" });
    var page = 0, shown = rows;
    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      page = Math.min(page, pages - 1);
      body.textContent = "";
      shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (r) {
        body.appendChild(el("tr", {}, cells([r[0], r[1], r[2], r[3], when(r[4])])));
      });
      info.textContent = shown.length ? (page * PAGE + 1) + "–" + Math.min((page + 1) * PAGE, shown.length) +
        " of " + num(shown.length) + " rows" : "No matching rows";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    function filter() {
      var q = search.value.trim().toLowerCase(), code = select.value;
      shown = rows.filter(function (r) {
        return (!code || r[1] === code) && (!q || String(r[0]).toLowerCase().indexOf(q) >= 0);
      });
      page = 0;
      draw();
    }
    search.addEventListener("input", filter);
    select.addEventListener("change", filter);
    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    var head = el("tr", {}, ["Record key", "Error code", "Message", "Attempts", "First failed at"].map(function (h) {
      return el("th", { text: h });
    }));
    wrap.appendChild(el("div", { cls: "controls" }, [search, select]));
    if (sync.open_failures > rows.length) {
      wrap.appendChild(el("p", { cls: "capped", text: "Showing the oldest " + num(rows.length) + " of " +
        num(sync.open_failures) + " open failures (the page embeds at most " + num(DATA.caps.failures) +
        " per sync); search and filter look at those. The SQL below lists every one." }));
    }
    wrap.appendChild(el("table", { cls: "failures-table" }, [el("thead", {}, [head]), body]));
    wrap.appendChild(el("div", { cls: "pager" }, [prev, info, next]));
    draw();
    return wrap;
  }

  function syncSection(sync) {
    var sec = el("section", { id: "sync-" + sync.name, cls: "sync" });
    var r = sync.last_run;
    sec.appendChild(el("h2", {}, [sync.name + " ", badge(sync)]));
    sec.appendChild(el("p", { cls: "facts", text: "Model " + sync.model + " → " + sync.destination + " / " +
      sync.object + " (" + sync.mode + ")" + (sync.stage ? ", stage " + sync.stage : "") +
      (sync.after.length ? ", after " + sync.after.join(", ") : "") }));
    if (r) {
      sec.appendChild(el("p", { cls: "facts", text: "Last run " + r.run_id + " (" + r.status + "), started " +
        when(r.started_at) + ": " + num(r.attempted) + " attempted, " + num(r.succeeded) + " succeeded, " +
        num(r.failed) + " failed." + (r.error_message ? " " + r.error_message : "") }));
    }
    sec.appendChild(el("h3", { text: "Run history" }));
    if (sync.runs_capped) {
      sec.appendChild(el("p", { cls: "capped", text: "Showing the newest " + num(sync.runs.length) +
        " runs of the last " + DATA.days + " days (the page embeds at most " + num(DATA.caps.runs) + " per sync)." }));
    }
    runCharts(sec, sync);
    sec.appendChild(el("h3", { text: "Open failures (" + num(sync.open_failures) + ")" }));
    if (sync.error_codes.length) {
      sec.appendChild(table(["Error code", "Open failures", "Sample message"], sync.error_codes.map(function (c) {
        return el("tr", {}, cells([c.code, num(c.count), c.sample]));
      }), "codes"));
    }
    sec.appendChild(sync.open_failures ? failuresTable(sync) : el("p", { cls: "muted", text: "No open failures." }));
    sec.appendChild(el("h3", { text: "Alert history" }));
    if (sync.alerts.length) {
      if (sync.alerts_capped) {
        sec.appendChild(el("p", { cls: "capped", text: "Showing the newest " + num(sync.alerts.length) + " alerts." }));
      }
      sec.appendChild(table(["Created at", "Kind", "Channel", "Status", "Attempts", "Run", "Error"],
        sync.alerts.map(function (a) {
          return el("tr", {}, cells([when(a.created_at), a.kind, a.channel, a.status, a.attempts, a.run_id, a.error]));
        }), "alerts"));
    } else {
      sec.appendChild(el("p", { cls: "muted", text: "No alerts in the last " + DATA.days + " days." }));
    }
    sec.appendChild(el("h3", { text: "In the warehouse" }));
    sec.appendChild(el("p", { text: "Every open failure of this sync:" }));
    sec.appendChild(el("pre", { cls: "sql", text: sync.failures_sql }));
    sec.appendChild(el("p", { text: "Its runs:" }));
    sec.appendChild(el("pre", { cls: "sql", text: sync.runs_sql }));
    sec.appendChild(el("p", {}, [el("a", { href: "#top", text: "Back to the overview" })]));
    return sec;
  }

  var root = document.getElementById("report");
  root.textContent = "";
  root.appendChild(el("h2", { id: "overview", text: "Syncs" }));
  root.appendChild(DATA.syncs.length ? overview() : el("p", { cls: "muted", text: "No syncs selected." }));
  root.appendChild(el("h2", { text: "Plan" }));
  root.appendChild(el("div", { cls: "graph" }, [graph()]));
  DATA.syncs.forEach(function (s) { root.appendChild(syncSection(s)); });
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-ready", "true");
  if (location.hash) {
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
})();
