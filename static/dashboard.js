/* Dashboard pages: draw the data the server prepared, redraw it when /v1/live says
 * events were stored. Everything from events goes in with textContent (never HTML). */
(function () {
  "use strict";
  var me = document.currentScript;
  var dataUrl = me.getAttribute("data-url");
  // At most ~3 refreshes per second, and never busier than half the time: a query that
  // takes 400 ms on a big database refreshes at most every 800 ms.
  var MIN_GAP_MS = 300;
  var inFlight = false, dirty = false, lastRefresh = 0, lastCost = 0, timer = null;
  var state = window.collectorDashboard = { frames: 0, refreshes: 0, events: 0 };

  function cell(td, value) {
    if (value && typeof value === "object") {
      var text = value.text == null ? "" : String(value.text);
      if (value.href && value.href.charAt(0) === "/" && value.href.charAt(1) !== "/") {
        var a = document.createElement("a");
        a.href = value.href;
        a.textContent = text;
        td.appendChild(a);
      } else if (value.pre) {
        var pre = document.createElement("pre");
        pre.textContent = text;
        td.appendChild(pre);
      } else {
        td.textContent = text;
      }
      if (value["class"]) td.className = value["class"];
    } else {
      td.textContent = value == null ? "" : String(value);
    }
  }

  function fillTable(id, rows) {
    var body = document.getElementById(id);
    if (!body) return;
    var fresh = document.createElement("tbody");
    fresh.id = id;
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (value) {
        var td = document.createElement("td");
        cell(td, value);
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    body.parentNode.replaceChild(fresh, body);
  }

  function render(data) {
    if (!data) return;
    Object.keys(data.stats || {}).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      if (el.tagName === "A") {
        var href = String(data.stats[id]);
        if (href.charAt(0) === "/") el.href = href;
      } else {
        el.textContent = String(data.stats[id]);
      }
    });
    Object.keys(data.tables || {}).forEach(function (id) { fillTable(id, data.tables[id]); });
    Object.keys(data.figures || {}).forEach(function (id) {
      var el = document.getElementById(id);
      var fig = data.figures[id];
      if (!el || !window.Plotly) return;
      window.Plotly.react(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
      if (el.getAttribute("data-node-url") && !el.hasAttribute("data-bound")) {
        el.setAttribute("data-bound", "1");
        el.on("plotly_click", function (ev) { showNode(el, ev); });
      }
    });
  }

  function showNode(el, ev) {
    var point = ev && ev.points && ev.points[0];
    if (!point || !point.customdata) return; // a link, not a node
    var panel = document.getElementById("node-panel");
    // customdata holds the raw label (never drawn); the drawn label is escaped.
    var url = el.getAttribute("data-node-url") + "&node_step=" +
      encodeURIComponent(point.customdata[0]) + "&node_label=" +
      encodeURIComponent(point.customdata[1]);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { render(data); if (panel) panel.hidden = false; });
  }

  function refresh() {
    if (!dataUrl) return;
    if (inFlight) { dirty = true; return; }
    var wait = lastRefresh + Math.max(MIN_GAP_MS, 2 * lastCost) - Date.now();
    if (wait > 0) {
      if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, wait);
      return;
    }
    inFlight = true;
    dirty = false;
    lastRefresh = Date.now();
    fetch(dataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        lastCost = Date.now() - lastRefresh;
        render(data);
        state.refreshes += 1;
      })
      .catch(function () { /* next live frame retries */ })
      .then(function () { inFlight = false; if (dirty) refresh(); });
  }

  var status = document.getElementById("live-status");
  var backoff = 500;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                           location.host + "/v1/live");
    ws.onopen = function () {
      backoff = 500;
      if (status) { status.textContent = "● live"; status.className = "live-status on"; }
    };
    ws.onmessage = function (msg) {
      var frame;
      try { frame = JSON.parse(msg.data); } catch (e) { return; }
      if (frame.type !== "events") return;
      state.frames += 1;
      state.events += frame.count || 0;
      refresh();
    };
    ws.onclose = function () {
      if (status) { status.textContent = "○ reconnecting"; status.className = "live-status"; }
      // A refused handshake looks like any other close: ask the same path without an
      // upgrade, which answers 401/403 as the handshake did. Those never heal by retrying.
      fetch("/v1/live", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.status === 401 || r.status === 403; },
              function () { return false; })
        .then(function (refused) {
          if (refused) { sessionEnded(); return; }
          setTimeout(connect, backoff);
          backoff = Math.min(backoff * 2, 15000);
        });
    };
  }

  function sessionEnded() {
    state.live = "ended";
    if (!status) return;
    status.textContent = "○ session ended: ";
    status.className = "live-status ended";
    var login = document.createElement("a");
    login.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    login.textContent = "log in again";
    status.appendChild(login);
  }

  var initial = document.getElementById("initial-data");
  render(initial ? JSON.parse(initial.textContent) : null);
  connect();
})();
