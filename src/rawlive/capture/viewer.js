/* rawlive capture viewer: draws the page from the JSON blob that
   `rawlive show --html` embeds. Plain DOM and SVG, no library, no network. */
"use strict";
(function () {
  var DATA = JSON.parse(document.getElementById("rawlive-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var ROWS_FIRST = 600, ROWS_MORE = 2000;
  var LANE_LEFT = 90, LANE_RIGHT = 34;  // room for the lane names, and for a close code
  var KIND_COLORS = { input: "#2f6fde", reply: "#1f9d6b" };

  // ------------------------------------------------------------ small helpers

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }
  function sv(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (var key in attrs) {
      var v = attrs[key];
      if (v === null || v === undefined || v === false) continue;
      if (key === "text") node.textContent = v;
      else if (key === "onclick") node.addEventListener("click", v);
      else node.setAttribute(key, v);
    }
  }
  function add(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(node, c); }); return; }
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  function tip(node, text) { node.appendChild(sv("title", { text: text })); return node; }
  function secs(x) { return x === null || x === undefined ? "n/a" : x.toFixed(3) + " s"; }
  function ms(x) {
    if (x === null || x === undefined) return "n/a";
    return Math.abs(x) < 10 ? Math.round(x * 1000) + " ms" : x.toFixed(1) + " s";
  }
  function clock(t) {
    if (t >= 60) { var m = Math.floor(t / 60); return m + ":" + ("0" + (t - m * 60).toFixed(0)).slice(-2); }
    return (Math.round(t * 100) / 100) + "s";
  }
  function duration(x) { return x >= 60 ? clock(x) : x.toFixed(1) + " s"; }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function badge(text, cls, title) { return el("span", { "class": "badge " + (cls || ""), title: title, text: text }); }

  // ------------------------------------------------------------ one view

  function View(data, index, opts) {
    this.d = data;
    this.id = "v" + index;
    this.opts = opts || {};
    var f = data.frames;
    this.n = f.t.length;
    this.lint = {};
    var self = this;
    data.lint.forEach(function (l) { (self.lint[l[0]] = self.lint[l[0]] || []).push(l); });
    this.tools = {};
    data.tools.forEach(function (t) { self.tools[t.id] = t; });
    this.turnKinds = {};
    this.turnOrder = {};  // the server frames' kinds of each turn, runs collapsed
    var last = {};
    for (var i = 0; i < this.n; i++) {
      if (f.n[i]) {
        var kind = data.strings[f.k[i]];
        var set = (this.turnKinds[f.n[i]] = this.turnKinds[f.n[i]] || {});
        set[kind] = true;
        var order = (this.turnOrder[f.n[i]] = this.turnOrder[f.n[i]] || []);
        if (last[f.n[i]] === kind) order[order.length - 1] = kind + " \u00d7N";
        else if (order.length === 0 || order[order.length - 1] !== kind + " \u00d7N") order.push(kind);
        last[f.n[i]] = kind;
      }
    }
    this.highlight = opts && opts.highlight ? opts.highlight : null;
  }
  View.prototype.str = function (i) { return this.d.strings[i]; };
  View.prototype.kindOf = function (i) { return this.str(this.d.frames.k[i]); };
  View.prototype.dirOf = function (i) { return this.d.frames.d[i]; };
  View.prototype.differs = function (i) {
    if (!this.highlight) return null;
    var dir = this.dirOf(i) === 0 ? "client" : this.dirOf(i) === 1 ? "server" : null;
    if (!dir) return null;
    var j = this.d.frames.j[i];
    return this.highlight(dir, this.kindOf(i), j >= 0 ? this.str(j) : "");
  };

  View.prototype.header = function () {
    var d = this.d, s = d.summary;
    var conns = d.conns.length;
    var bad = d.conns.filter(function (c) { return c.code !== undefined && !c.normal; }).length;
    var stats = [
      ["turns", s.complete + (s.turns !== s.complete ? " / " + s.turns : "")],
      ["latency avg", ms(s.latencyAvg)],
      ["latency max", ms(s.latencyMax)],
      ["frames \u2192 / \u2190", s.framesClient + " / " + s.framesServer, false, s.framesClient + " frames client \u2192 server, " + s.framesServer + " server \u2192 client"],
      ["audio in / out", duration(s.audioClient) + " / " + duration(s.audioServer)],
      ["tokens", s.tokens[2].toLocaleString("en-US"), false, s.tokens[0] + " prompt + " + s.tokens[1] + " response, summed over every usageMetadata"],
      ["connections", String(conns)],
      ["goAway", String(d.goAways.length)],
      ["problems", String(d.lint.length + s.undecodable + bad), d.lint.length + s.undecodable + bad > 0,
        d.lint.length + " lint findings, " + s.undecodable + " undecodable frames, " + bad + " abnormal closes"]
    ];
    var meta = [d.meta.created, d.meta.tool].filter(Boolean).join(" \u00b7 ");
    return el("section", { "class": "section" },
      el("div", { "class": "head" }, el("h1", { text: d.name }), el("span", { "class": "meta", text: meta })),
      d.meta.source ? el("div", { "class": "meta muted", text: "source: " + d.meta.source }) : null,
      el("div", { "class": "stats" }, stats.map(function (x) {
        return el("div", { "class": "stat" + (x[2] ? " bad" : "") + (x[1].length > 13 ? " long" : ""), title: x[3] }, el("b", { text: x[1] }), el("span", { text: x[0] }));
      })),
      this.connections());
  };

  View.prototype.connections = function () {
    var d = this.d;
    return el("div", { style: "margin-top:10px" }, d.conns.map(function (c) {
      var how = c.code === undefined ? badge("no close record", "warn")
        : badge((c.dropped ? "dropped " : "closed by " + (c.by || "nobody") + " ") + c.code, c.normal ? "ok" : "bad");
      return el("div", { "class": "conn" },
        el("b", { text: "#" + c.conn }), el("span", { "class": "mono", text: c.model || "" }),
        el("span", { "class": "muted", text: secs(c.open) + " \u2192 " + (c.close !== null ? secs(c.close) : "end") }),
        how, c.title ? el("span", { title: c.meaning || "", text: c.title + (c.retryable && !c.normal ? " (a retry can help)" : "") }) : null,
        c.meaning && !c.normal ? el("span", { "class": "muted", text: c.meaning }) : null,
        c.reason ? el("span", { "class": "mono muted", text: JSON.stringify(c.reason) }) : null);
    }));
  };

  // ------------------------------------------------------------ lanes

  View.prototype.timeline = function (scale) {
    var self = this;
    var box = el("div", { "class": "lanes" });
    var section = el("section", { "class": "section" },
      el("h2", { text: "Timeline" + (this.opts.compare ? " \u2014 " + this.d.name : "") }, el("span", { "class": "hint", text: "wheel: zoom \u00b7 drag: pan \u00b7 double-click: reset \u00b7 click a turn to open it" })),
      box, this.legend());
    var full = scale || this.d.duration;
    var view = { t0: 0, t1: full };
    function draw() { box.innerHTML = ""; box.appendChild(self.lanes(view, box.clientWidth || 1200)); }
    this.redraw = draw;
    box.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var rect = box.getBoundingClientRect();
      var at = view.t0 + (view.t1 - view.t0) * Math.min(1, Math.max(0, (ev.clientX - rect.left - LANE_LEFT) / (rect.width - LANE_LEFT - LANE_RIGHT)));
      var k = ev.deltaY > 0 ? 1.25 : 0.8;
      var span = Math.max(0.05, Math.min(full, (view.t1 - view.t0) * k));
      view.t0 = Math.max(0, at - (at - view.t0) * span / (view.t1 - view.t0));
      view.t1 = Math.min(full, view.t0 + span);
      view.t0 = Math.max(0, view.t1 - span);
      draw();
    }, { passive: false });
    var drag = null;
    box.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, t0: view.t0, t1: view.t1 }; });
    window.addEventListener("mouseup", function () { drag = null; });
    box.addEventListener("mousemove", function (ev) {
      if (!drag) return;
      var dt = (drag.x - ev.clientX) / (box.clientWidth - LANE_LEFT - LANE_RIGHT) * (drag.t1 - drag.t0);
      var span = drag.t1 - drag.t0;
      view.t0 = Math.max(0, Math.min(full - span, drag.t0 + dt));
      view.t1 = view.t0 + span;
      draw();
    });
    box.addEventListener("dblclick", function () { view.t0 = 0; view.t1 = full; draw(); });
    this.afterMount.push(draw);
    return section;
  };

  View.prototype.legend = function () {
    function item(color, text) { return el("span", null, el("i", { style: "background:" + color }), text); }
    return el("div", { "class": "legend" },
      item("#2f6fde", "client frames / user input"), item("#1f9d6b", "server frames / model reply"),
      item("#d63b3b", "interrupted, lint finding, abnormal close"), item("#e08a00", "goAway \u2192 deadline"),
      item("#8a4fd8", "tool call \u2192 response"), item("#1d2330", "turnComplete"), item("#9aa3b2", "generationComplete"));
  };

  View.prototype.lanes = function (view, width) {
    var d = this.d, f = d.frames, self = this;
    var left = LANE_LEFT, right = LANE_RIGHT, W = Math.max(400, width), plot = W - left - right;
    var span = Math.max(1e-6, view.t1 - view.t0);
    function x(t) { return left + (t - view.t0) / span * plot; }
    function visible(t0, t1) { return t1 >= view.t0 && t0 <= view.t1; }
    var lanes = { conn: 26, client: 64, server: 104, turns: 142, marks: 176 };
    var H = 200;
    var root = sv("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    root.appendChild(sv("defs", null, sv("pattern", { id: this.id + "-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      sv("rect", { width: 6, height: 6, fill: "#fff1d6" }), sv("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#e08a00", "stroke-width": 2 }))));
    // axis
    var axis = sv("g", { "class": "axis" });
    var step = niceStep(span / Math.max(2, plot / 110));
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1 + 1e-9; t += step) {
      axis.appendChild(sv("line", { x1: x(t), x2: x(t), y1: 12, y2: H - 4 }));
      axis.appendChild(sv("text", { x: x(t) + 2, y: 10, text: clock(+t.toFixed(6)) }));
    }
    root.appendChild(axis);
    [["connections", lanes.conn], ["client \u2192", lanes.client], ["server \u2190", lanes.server], ["turns", lanes.turns], ["markers", lanes.marks]]
      .forEach(function (l) { root.appendChild(sv("text", { "class": "lane-label", x: 6, y: l[1] + 4, text: l[0] })); });
    // connections (alternate rows, so a handover's overlap shows), closes, goAway deadlines
    var rowOf = {};
    d.conns.forEach(function (c, k) {
      var y = lanes.conn + (k % 2 ? 3 : -11);
      rowOf[c.conn] = y;
      var t0 = c.open !== null ? c.open : 0, t1 = c.close !== null ? c.close : d.duration;
      if (k > 0 && visible(t0, t0)) {
        var after = d.goAways.some(function (g) { return g.conn === d.conns[k - 1].conn && g.t <= t0; });
        root.appendChild(tip(sv("text", { x: x(t0) - 3, y: y + 10, "text-anchor": "end", "font-size": 10, fill: "#e08a00", "font-weight": 600, text: after ? "handover \u21aa" : "reconnect \u21aa" }),
          "connection #" + c.conn + " opened at " + secs(t0) + (after ? " after a goAway" : "")));
      }
      if (!visible(t0, t1)) return;
      var x0 = Math.max(left, x(t0)), x1 = Math.min(W - right, x(t1));
      root.appendChild(tip(sv("rect", { x: x0, y: y, width: Math.max(2, x1 - x0), height: 12, rx: 3, fill: "#e9edf3", stroke: "#c3cad6" }),
        "connection #" + c.conn + " " + (c.model || "") + "\n" + c.describe));
      root.appendChild(sv("text", { x: x0 + 4, y: y + 10, "font-size": 10, fill: "#1d2330", "font-weight": 600, text: "#" + c.conn + (x1 - x0 > 160 && c.model ? "  " + c.model : "") }));
    });
    d.goAways.forEach(function (g) {
      var end = g.deadline !== null ? g.deadline : g.t, y = rowOf[g.conn] !== undefined ? rowOf[g.conn] : lanes.conn - 11;
      if (!visible(g.t, end)) return;
      var gx = Math.max(left, x(g.t)), ex = Math.min(W - right, x(end));
      root.appendChild(tip(sv("rect", { x: gx, y: y + 1, width: Math.max(1, ex - gx), height: 10, fill: "url(#" + self.id + "-hatch)", opacity: 0.9 }),
        "goAway at " + secs(g.t) + ", timeLeft " + g.timeLeft + ": deadline " + secs(g.deadline)));
      root.appendChild(tip(sv("path", { d: "M" + gx + " " + (y + 1) + " l-5 -8 h10 z", fill: "#e08a00" }), "goAway timeLeft " + g.timeLeft));
      if (ex - gx > 70) root.appendChild(sv("text", { x: gx + 4, y: y + 9, "font-size": 9, fill: "#9a5d00", text: "goAway " + g.timeLeft }));
      if (g.deadline !== null && visible(end, end)) root.appendChild(tip(sv("line", { x1: ex, x2: ex, y1: y - 3, y2: y + 15, stroke: "#e08a00", "stroke-width": 2 }), "goAway deadline " + secs(end)));
    });
    d.conns.forEach(function (c) {
      if (c.code === undefined || c.close === null || !visible(c.close, c.close)) return;
      var color = c.normal ? "#1f9d6b" : "#d63b3b", y = rowOf[c.conn];
      root.appendChild(sv("line", { x1: x(c.close), x2: x(c.close), y1: y, y2: H - 6, stroke: color, "stroke-width": 1.5, "stroke-dasharray": "3 2" }));
      root.appendChild(tip(sv("text", { x: x(c.close) + 3, y: y + 10, "font-size": 10, "font-weight": 700, fill: color, text: String(c.code) }),
        c.code + " " + (c.title || "") + (c.meaning ? ": " + c.meaning : "") + (c.reason ? "\nreason: " + c.reason : "")));
    });
    // frame density per pixel column
    var bins = [{}, {}], bad = [{}, {}], bw = 2;
    for (var i = 0; i < self.n; i++) {
      var dir = f.d[i];
      if (dir > 1 || f.t[i] < view.t0 || f.t[i] > view.t1) continue;
      var col = Math.floor((x(f.t[i]) - left) / bw);
      bins[dir][col] = (bins[dir][col] || 0) + 1;
      if (self.kindOf(i) === "!! undecodable" || self.lint[i]) bad[dir][col] = true;
    }
    [[0, lanes.client, "#2f6fde"], [1, lanes.server, "#1f9d6b"]].forEach(function (l) {
      var path = "", red = "";
      for (var c in bins[l[0]]) {
        var h = Math.min(30, 5 + Math.log(bins[l[0]][c]) / Math.LN2 * 5);
        var seg = "M" + (left + c * bw) + " " + (l[1] - h / 2) + "h" + bw + "v" + h + "h-" + bw + "z";
        if (bad[l[0]][c]) red += seg; else path += seg;
      }
      root.appendChild(sv("line", { x1: left, x2: W - right, y1: l[1], y2: l[1], stroke: "#e2e5ea" }));
      root.appendChild(sv("path", { d: path, fill: l[2], opacity: 0.85 }));
      if (red) root.appendChild(sv("path", { d: red, fill: "#d63b3b" }));
    });
    d.lint.forEach(function (l) {
      var t = f.t[l[0]];
      if (visible(t, t)) root.appendChild(tip(sv("circle", { cx: x(t), cy: lanes.client, r: 6, fill: "none", stroke: "#d63b3b", "stroke-width": 2 }), "lint [" + l[1] + "] " + l[2]));
    });
    // turns as bands: input (blue) then reply (green, red when interrupted)
    d.turns.forEach(function (turn) {
      var g = sv("g", { "class": "turnband" });
      g.addEventListener("click", function () { self.openTurn(turn.n); });
      var a = turn.inputStart !== null ? turn.inputStart : turn.inputEnd;
      if (a !== null && turn.inputEnd !== null && visible(a, turn.inputEnd)) {
        var ix = Math.max(left, x(a));
        g.appendChild(sv("rect", { x: ix, y: lanes.turns - 8, width: Math.max(2, Math.min(W - right, x(turn.inputEnd)) - ix), height: 16, rx: 3, fill: KIND_COLORS.input, opacity: 0.35 }));
      }
      if (turn.start !== null && visible(turn.start, turn.end)) {
        var rx = Math.max(left, x(turn.start)), rw = Math.max(3, Math.min(W - right, x(turn.end)) - rx);
        var fill = turn.interrupted ? "#d63b3b" : KIND_COLORS.reply;
        g.appendChild(sv("rect", { x: rx, y: lanes.turns - 8, width: rw, height: 16, rx: 3, fill: fill, opacity: turn.complete ? 0.75 : 0.35, "stroke-dasharray": turn.complete ? null : "3 2", stroke: turn.complete ? null : fill }));
        if (rw > 18) g.appendChild(sv("text", { x: rx + 4, y: lanes.turns + 4, "font-size": 10, fill: "#fff", "font-weight": 600, text: "T" + turn.n }));
      }
      tip(g, "turn " + turn.n + (turn.user ? ": " + turn.user.slice(0, 80) : "") + "\nfirst byte " + ms(turn.latency.firstByte) + ", first audio " + ms(turn.latency.firstAudio) + ", duration " + ms(turn.latency.duration));
      root.appendChild(g);
    });
    // markers
    d.markers.forEach(function (m) {
      var t = m[1];
      if (!visible(t, t)) return;
      var mx = x(t), y = lanes.marks, node;
      if (m[0] === "interrupted") node = sv("path", { d: "M" + (mx - 5) + " " + (y - 8) + " h10 l-5 9 z", fill: "#d63b3b" });
      else if (m[0] === "turnComplete") node = sv("rect", { x: mx - 1, y: y - 2, width: 2, height: 12, fill: "#1d2330" });
      else node = sv("rect", { x: mx - 3, y: y - 9, width: 6, height: 6, transform: "rotate(45 " + mx + " " + (y - 6) + ")", fill: "#9aa3b2" });
      root.appendChild(tip(node, m[0] + " at " + secs(t) + " (turn " + m[4] + ")"));
    });
    d.tools.forEach(function (tool) {
      if (tool.t === undefined) return;
      var cx = x(tool.t);
      if (tool.rt !== undefined && visible(tool.t, tool.rt)) {
        var rx2 = x(tool.rt);
        root.appendChild(tip(sv("path", { d: "M" + cx + " " + lanes.server + " C" + cx + " " + (lanes.client + 10) + " " + rx2 + " " + (lanes.server - 10) + " " + rx2 + " " + lanes.client, fill: "none", stroke: "#8a4fd8", "stroke-width": 1.5 }),
          tool.name + " answered after " + ms(tool.rt - tool.t)));
        root.appendChild(sv("circle", { cx: rx2, cy: lanes.client, r: 4.5, fill: "#8a4fd8" }));
      }
      if (visible(tool.t, tool.t)) root.appendChild(tip(sv("circle", { cx: cx, cy: lanes.server, r: 4.5, fill: "#8a4fd8" }), "toolCall " + tool.name + " id=" + tool.id));
    });
    return root;
  };

  var observer = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (!e.isIntersecting) return;
      e.target.src = e.target.rawliveSource;
      observer.unobserve(e.target);
    });
  }, { rootMargin: "800px" }) : null;
  function lazySource(player, src) {
    if (!observer) { player.src = src; return; }
    player.rawliveSource = src;
    observer.observe(player);
  }

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  // ------------------------------------------------------------ charts

  View.prototype.charts = function () {
    var turns = this.d.turns, self = this;
    if (!turns.length) return null;
    return el("section", { "class": "section charts" },
      el("div", null, el("h2", { text: "Latency per turn" }), this.latencyChart(turns)),
      el("div", null, el("h2", { text: "Usage per turn (tokens)" }), this.usageChart(turns)));
  };

  var LAT = [["firstByte", "first byte", "#9aa3b2"], ["firstText", "first text", "#2f6fde"], ["firstAudio", "first audio", "#1f9d6b"], ["duration", "turn duration", "#c9d0db"]];

  View.prototype.latencyChart = function (turns) {
    var self = this, H = 200, top = 50, bottom = 22, W = 700, left = 44;
    var max = 0.001;
    turns.forEach(function (t) { LAT.forEach(function (k) { var v = t.latency[k[0]]; if (v !== null && v > max) max = v; }); });
    var root = sv("svg", { viewBox: "0 0 " + W + " " + H, height: H });
    var gw = (W - left) / turns.length, bw = Math.max(1, Math.min(16, gw / 5));
    var numbers = turns.length <= 12;
    for (var g = 0; g <= 4; g++) {
      var gy = top + (H - top - bottom) * (1 - g / 4);
      root.appendChild(sv("line", { x1: left, x2: W, y1: gy, y2: gy, stroke: "#eef0f3" }));
      root.appendChild(sv("text", { x: left - 4, y: gy + 3, "text-anchor": "end", text: ms(max * g / 4) }));
    }
    turns.forEach(function (t, i) {
      var gx = left + i * gw + (gw - bw * 4) / 2;
      LAT.forEach(function (k, j) {
        var v = t.latency[k[0]];
        if (v === null || v === undefined) return;
        var h = Math.max(1, (H - top - bottom) * v / max);
        var bar = sv("rect", { x: gx + j * bw, y: H - bottom - h, width: bw > 2 ? bw - 1 : bw, height: h, fill: k[2], rx: bw > 2 ? 1 : 0 });
        bar.addEventListener("click", function () { self.openTurn(t.n); });
        root.appendChild(tip(bar, "turn " + t.n + " " + k[1] + ": " + ms(v)));
        if (numbers) {
          var nx = gx + j * bw + bw / 2 + 3, ny = H - bottom - h - 3;
          root.appendChild(sv("text", { "class": "num", x: nx, y: ny, transform: "rotate(-90 " + nx + " " + ny + ")", "font-size": 9, text: ms(v) }));
        }
      });
      if (numbers || i % Math.ceil(turns.length / 20) === 0) root.appendChild(sv("text", { x: gx + bw * 2, y: H - 8, "text-anchor": "middle", text: "T" + t.n }));
    });
    var legend = el("div", { "class": "legend" }, LAT.map(function (k) { return el("span", null, el("i", { style: "background:" + k[2] }), k[1]); }));
    return el("div", null, root, legend);
  };

  View.prototype.usageChart = function (turns) {
    var H = 170, top = 18, bottom = 22, W = 460, left = 40, max = 1, self = this;
    if (!turns.some(function (t) { return t.usage.total !== null || t.usage.prompt !== null; })) {
      return el("p", { "class": "muted", text: "No usageMetadata in this capture." });
    }
    turns.forEach(function (t) { var u = t.usage; var v = (u.prompt || 0) + (u.response || 0); if (u.total > v) v = u.total; if (v > max) max = v; });
    var root = sv("svg", { viewBox: "0 0 " + W + " " + H, height: H });
    var gw = (W - left) / turns.length, bw = Math.max(1, Math.min(26, gw * 0.7)), numbers = turns.length <= 12;
    for (var g = 0; g <= 4; g++) {
      var gy = top + (H - top - bottom) * (1 - g / 4);
      root.appendChild(sv("line", { x1: left, x2: W, y1: gy, y2: gy, stroke: "#eef0f3" }));
      if (max >= 4 || g % 2 === 0) root.appendChild(sv("text", { x: left - 4, y: gy + 3, "text-anchor": "end", text: String(Math.round(max * g / 4)) }));
    }
    turns.forEach(function (t, i) {
      var u = t.usage, x0 = left + i * gw + (gw - bw) / 2, y = H - bottom;
      if (u.total === null && u.prompt === null) return;
      [[u.prompt || 0, "#b9c8e6", "prompt"], [u.response || 0, "#1f9d6b", "response"]].forEach(function (p) {
        var h = (H - top - bottom) * p[0] / max;
        y -= h;
        root.appendChild(tip(sv("rect", { x: x0, y: y, width: bw, height: Math.max(0, h), fill: p[1] }), "turn " + t.n + " " + p[2] + " " + p[0] + " tokens"));
      });
      if (numbers) root.appendChild(sv("text", { "class": "num", x: x0 + bw / 2, y: y - 3, "text-anchor": "middle", text: String(u.total !== null ? u.total : "") }));
      if (numbers || i % Math.ceil(turns.length / 12) === 0) root.appendChild(sv("text", { x: x0 + bw / 2, y: H - 8, "text-anchor": "middle", text: "T" + t.n }));
    });
    return el("div", null, root, el("div", { "class": "legend" }, el("span", null, el("i", { style: "background:#b9c8e6" }), "prompt (whole context)"), el("span", null, el("i", { style: "background:#1f9d6b" }), "response")));
  };

  // ------------------------------------------------------------ turns

  View.prototype.turnsSection = function () {
    var self = this;
    var section = el("section", { "class": "section" }, el("h2", { text: "Turns" }));
    if (!this.d.turns.length) section.appendChild(el("p", { "class": "muted", text: "No model turn in this capture." }));
    if (this.d.audioSkipped) section.appendChild(el("p", { "class": "muted", text: "The page embeds audio up to " + (this.d.audioBudget / 1e6).toFixed(1) + " MB (--audio-budget); later turns show their waveform only." }));
    this.d.turns.forEach(function (turn) { section.appendChild(self.turnCard(turn)); });
    this.d.unanswered.forEach(function (u) { section.appendChild(self.unansweredCard(u)); });
    return section;
  };

  View.prototype.orderText = function (n) { return (this.turnOrder[n] || []).join(" \u2192 "); };

  View.prototype.turnCard = function (turn, otherOrder) {
    var self = this, lat = turn.latency;
    var cls = "turn" + (turn.interrupted ? " interrupted" : "") + (turn.complete ? "" : " incomplete");
    var head = el("div", { "class": "turn-head" },
      el("h3", { text: "Turn " + turn.n }),
      this.d.conns.length > 1 ? badge("connection #" + turn.conn) : null,
      el("span", { "class": "when", text: secs(turn.inputStart !== null ? turn.inputStart : turn.start) + " \u2192 " + secs(turn.end) }),
      turn.interrupted ? badge("interrupted", "bad") : null,
      turn.complete ? null : badge("incomplete: no turnComplete", "warn"),
      turn.calls.length ? badge(plural(turn.calls.length, "tool call"), "tool") : null,
      this.turnDiff(turn),
      otherOrder !== undefined && otherOrder !== this.orderText(turn.n) ? badge("frame order differs", "diff", "this turn: " + this.orderText(turn.n) + "\nthe other: " + (otherOrder || "(no turn)")) : null,
      el("a", { href: "#", "class": "muted", style: "margin-left:auto;font-size:12px", text: "frames \u2193", onclick: function (ev) { ev.preventDefault(); self.showFrame(turn.firstFrame); } }));
    var user = el("div", { "class": "side user" }, el("h4", { text: "User" }));
    if (turn.user) user.appendChild(el("div", { "class": "quote", text: turn.user }));
    if (turn.audioIn) user.appendChild(this.audio(turn.audioIn, [], "input"));
    if (turn.inputTranscript) user.appendChild(el("div", { "class": "quote", title: "inputTranscription", text: "\u201c" + turn.inputTranscript + "\u201d" }));
    turn.responses.forEach(function (id) { user.appendChild(self.toolBox(self.tools[id], "response")); });
    if (user.childNodes.length === 1) user.appendChild(el("div", { "class": "muted", text: "(no input on this connection before the reply)" }));
    var model = el("div", { "class": "side model" }, el("h4", { text: "Model" }));
    if (turn.audioOut) model.appendChild(this.audio(turn.audioOut, turn.transcript, "output"));
    else if (turn.transcript.length) model.appendChild(el("div", { "class": "quote", text: turn.transcript.map(function (p) { return p[2]; }).join("") }));
    if (turn.text) model.appendChild(el("div", { "class": "quote", text: turn.text }));
    turn.calls.forEach(function (id) { model.appendChild(self.toolBox(self.tools[id], "call")); });
    var marks = el("div", { "class": "marks" }, turn.markers.map(function (m) {
      return badge(m[0] + " +" + ms(m[1] - (turn.start || 0)), m[0] === "interrupted" ? "bad" : m[0] === "turnComplete" ? "ok" : "");
    }));
    model.appendChild(marks);
    var max = Math.max(0.001, lat.duration || 0, lat.firstAudio || 0);
    var latBox = el("div", { "class": "lat" }, el("h4", { "class": "muted", style: "margin:0 0 4px;font-size:11px;text-transform:uppercase", text: "Latency from end of input" }),
      LAT.map(function (k) {
        var v = lat[k[0]];
        return el("div", { "class": "row" }, el("span", { text: k[1] }),
          el("div", { "class": "bar" }, v === null || v === undefined ? null : el("i", { style: "width:" + Math.max(1, 100 * v / max) + "%;background:" + k[2] })),
          el("span", { "class": "v", text: ms(v) }));
      }),
      el("div", { "class": "muted", style: "margin-top:6px" }, "tokens: " + (turn.usage.prompt !== null ? turn.usage.prompt + " prompt + " + turn.usage.response + " response = " + turn.usage.total : "not reported")));
    var order = otherOrder !== undefined ? el("div", { "class": "mono muted", style: "margin-top:6px", text: "server frames: " + this.orderText(turn.n) }) : null;
    return el("div", { "class": cls, id: this.id + "-turn-" + turn.n }, head, el("div", { "class": "turn-body" }, user, model, latBox), order);
  };

  View.prototype.unansweredCard = function (u) {
    var self = this, user = el("div", { "class": "side user" }, el("h4", { text: "User" }));
    if (u.user) user.appendChild(el("div", { "class": "quote", text: u.user }));
    if (u.audioIn) user.appendChild(this.audio(u.audioIn, [], "input"));
    u.responses.forEach(function (id) { user.appendChild(self.toolBox(self.tools[id], "response")); });
    return el("div", { "class": "turn incomplete" },
      el("div", { "class": "turn-head" }, el("h3", { text: "Input without a reply" }),
        this.d.conns.length > 1 ? badge("connection #" + u.conn) : null,
        el("span", { "class": "when", text: "from " + secs(u.inputStart) }),
        badge("no model output before the capture ends", "warn")),
      el("div", { "class": "turn-body" }, user));
  };

  View.prototype.turnDiff = function (turn) {
    if (!this.highlight) return null;
    var kinds = Object.keys(this.turnKinds[turn.n] || {}), hits = [];
    for (var i = 0; i < kinds.length; i++) if (this.highlight("server", kinds[i], "")) hits.push(kinds[i]);
    return hits.length ? badge("shape differs: " + hits.join(", "), "diff", "kinds only one capture has (see the diff above)") : null;
  };

  View.prototype.toolBox = function (tool, side) {
    if (!tool) return null;
    var box = el("div", { "class": "tool" });
    if (side === "call") {
      box.appendChild(el("div", null, el("b", { text: "toolCall " }), el("span", { "class": "mono", text: (tool.name || "?") + "(" + (tool.args || "") + ")" })));
      if (tool.response !== undefined) box.appendChild(el("div", null, el("span", { "class": "arrow", text: "\u21b3 response " }), el("span", { "class": "mono", text: tool.response }), el("span", { "class": "muted", text: " after " + ms(tool.rt - tool.t) })));
      else if (tool.cancelled !== undefined) box.appendChild(el("div", { "class": "muted", text: "cancelled by the server at " + secs(tool.cancelled) }));
      else box.appendChild(el("div", { "class": "muted", text: "no toolResponse in the capture" }));
    } else {
      box.appendChild(el("div", null, el("b", { text: "toolResponse " }), el("span", { "class": "mono", text: (tool.name ? tool.name + " \u2192 " : "") + (tool.response || "") })));
      if (tool.t === undefined) box.appendChild(el("div", { "class": "muted", text: "no toolCall with this id in the capture" }));
    }
    box.appendChild(el("div", { "class": "muted mono", text: "id " + tool.id }));
    return box;
  };

  View.prototype.audio = function (a, transcript, which) {
    var box = el("div", { "class": "wave" });
    var label = (which === "input" ? "spoken input " : "audio ") + a.seconds.toFixed(2) + " s \u00b7 " + plural(a.chunks, "chunk") + (a.rate ? " \u00b7 " + a.rate / 1000 + " kHz" : "");
    if (a.redacted) {
      box.appendChild(el("div", { "class": "quote muted", text: label + " \u2014 redacted: " + a.redacted + " chunks stored as length and hash only" }));
      return box;
    }
    var W = 600, H = 46, pts = a.wave || [], n = Math.max(1, pts.length), d = "M0 " + H / 2;
    for (var i = 0; i < pts.length; i++) d += "L" + (i * W / n).toFixed(1) + " " + (H / 2 - pts[i] * H / 210).toFixed(1);
    for (var j = pts.length - 1; j >= 0; j--) d += "L" + (j * W / n).toFixed(1) + " " + (H / 2 + pts[j] * H / 210).toFixed(1);
    var color = which === "input" ? "#2f6fde" : "#1f9d6b";
    var head = sv("line", { x1: 0, x2: 0, y1: 0, y2: H, stroke: "#d63b3b", "stroke-width": 2, visibility: "hidden" });
    var svg = sv("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none" }, sv("path", { d: d + "Z", fill: color, opacity: 0.8 }), head);
    var spans = [];
    if (transcript.length && a.seconds > 0) {
      transcript.forEach(function (p) {
        var px = W * Math.min(1, p[1] / a.seconds);
        svg.appendChild(sv("line", { x1: px, x2: px, y1: H - 6, y2: H, stroke: "#1d2330", opacity: 0.5 }));
      });
    }
    box.appendChild(el("div", { "class": "muted", style: "font-size:12px", text: label }));
    box.appendChild(svg);
    if (transcript.length) {
      var tr = el("div", { "class": "transcript" });
      transcript.forEach(function (p) {
        var span = el("span", { title: "at " + p[1].toFixed(2) + " s of the audio (arrived " + secs(p[0]) + ")", text: p[2] });
        spans.push([p[1], span]);
        tr.appendChild(span);
      });
      box.appendChild(tr);
    }
    if (a.wav) {
      // The data: URI goes into the player only when it comes near the screen, so
      // a long capture does not hand the browser hundreds of media sources at once.
      var player = el("audio", { "class": "player", controls: "", preload: "metadata", "data-seconds": a.seconds });
      lazySource(player, a.wav);
      player.addEventListener("timeupdate", function () {
        var at = player.currentTime;
        head.setAttribute("visibility", "visible");
        head.setAttribute("x1", W * at / a.seconds); head.setAttribute("x2", W * at / a.seconds);
        spans.forEach(function (s) { s[1].className = s[0] <= at + 0.05 ? "said" : ""; });
      });
      svg.addEventListener("click", function (ev) {
        var r = svg.getBoundingClientRect();
        if (!player.getAttribute("src")) player.src = a.wav;
        player.currentTime = a.seconds * (ev.clientX - r.left) / r.width;
        player.play();
      });
      box.appendChild(player);
    } else if (a.problem) {
      box.appendChild(el("div", { "class": "note", text: "no player: " + a.problem }));
    } else {
      box.appendChild(el("div", { "class": "note" }, "Audio not embedded (the page's audio budget is spent). Extract it with ",
        el("code", { text: "rawlive wav " + this.d.name + " out.wav" + (which === "input" ? " --input" : "") }), "."));
    }
    return box;
  };

  // ------------------------------------------------------------ frames

  View.prototype.framesSection = function () {
    var self = this, d = this.d;
    var list = el("div", { "class": "frames" });
    var section = el("section", { "class": "section" }, el("h2", { text: "Frames" }, el("span", { "class": "hint", text: "click a row for its JSON (base64 shortened); runs of audio chunks open to one row per frame" })), list);
    var ends = {};
    d.turns.forEach(function (t) { ends[t.endIndex] = t; });
    this.rowsShown = 0;
    this.runOf = {};
    d.runs.forEach(function (r, i) { for (var k = r[0]; k <= r[1]; k++) self.runOf[k] = i; });
    var more = el("button", { "class": "more" });
    function render(count) {
      var stop = Math.min(d.runs.length, self.rowsShown + count);
      for (var i = self.rowsShown; i < stop; i++) {
        var run = d.runs[i];
        list.appendChild(self.frameRow(run[0], run[1]));
        if (ends[run[1]]) {
          var t = ends[run[1]];
          list.appendChild(el("div", { "class": "sep" }, "\u2014 end of turn " + t.n + " \u00b7 first byte " + ms(t.latency.firstByte) + " \u00b7 first audio " + ms(t.latency.firstAudio) + " \u00b7 " + ms(t.latency.duration)));
        }
      }
      self.rowsShown = stop;
      more.textContent = "Show " + Math.min(ROWS_MORE, d.runs.length - stop) + " more rows (" + (d.runs.length - stop) + " left)";
      more.style.display = stop < d.runs.length ? "" : "none";
    }
    more.addEventListener("click", function () { render(ROWS_MORE); });
    this.renderRows = render;
    render(ROWS_FIRST);
    section.appendChild(more);
    return section;
  };

  View.prototype.frameRow = function (a, b) {
    var self = this, f = this.d.frames;
    var dir = f.d[a], single = a === b;
    var lintHere = [];
    for (var i = a; i <= b; i++) if (this.lint[i]) lintHere = lintHere.concat(this.lint[i]);
    var kind = this.kindOf(a), summary = this.str(f.s[a]);
    if (!single) summary = "audio \u00d7" + (b - a + 1) + " (" + this.str(f.s[a]) + " each, " + secs(f.t[b] - f.t[a]) + " of arrivals)";
    var cls = "frow " + (dir === 0 ? "c" : dir === 1 ? "s" : "o") + (kind === "!! undecodable" ? " bad" : "") + (lintHere.length ? " lint" : "") + (kind === "open" ? " open" : "");
    if (kind === "close" && !/^by (client|server) 1000/.test(summary)) cls += " bad";
    if (this.differs(a)) cls += " diffk";
    var arrow = dir === 0 ? "\u2192" : dir === 1 ? "\u2190" : "\u2550";
    var row = el("div", { "class": cls, id: this.id + "-f-" + a },
      el("span", { "class": "t", text: f.t[a].toFixed(3) }), el("span", { "class": "muted", text: f.c[a] ? "#" + f.c[a] : "" }),
      el("span", { "class": "a", text: arrow }), el("span", { "class": "k", text: kind }),
      el("span", { "class": "s", title: summary, text: summary }));
    var box = el("div", null, row);
    var detail = null;
    row.addEventListener("click", function () {
      if (detail) { detail.remove(); detail = null; return; }
      detail = el("div");
      lintHere.forEach(function (l) { detail.appendChild(el("div", { "class": "lintmsg", text: "lint [" + l[1] + "] " + l[2] + " (what the service would reject)" })); });
      if (single) detail.appendChild(self.json(a));
      else {
        var sub = el("div", { "class": "sub" });
        for (var k = a; k <= b; k++) sub.appendChild(self.frameRow(k, k));
        detail.appendChild(sub);
      }
      box.appendChild(detail);
    });
    return box;
  };

  View.prototype.json = function (i) {
    var j = this.d.frames.j[i];
    return el("pre", { "class": "json", text: j >= 0 ? this.str(j) : "(no payload: " + this.str(this.d.frames.s[i]) + ")" });
  };

  View.prototype.showFrame = function (i) {
    var run = this.runOf[i] || 0;
    if (run >= this.rowsShown) this.renderRows(run - this.rowsShown + 50);
    var row = document.getElementById(this.id + "-f-" + this.d.runs[run][0]);
    if (row) { row.scrollIntoView({ block: "center" }); row.style.outline = "2px solid #ffd36b"; setTimeout(function () { row.style.outline = ""; }, 1500); }
  };

  View.prototype.openTurn = function (n) {
    var card = document.getElementById(this.id + "-turn-" + n);
    if (!card) return;
    card.scrollIntoView({ block: "start", behavior: "smooth" });
    card.classList.add("flash");
    setTimeout(function () { card.classList.remove("flash"); }, 1500);
  };

  View.prototype.lintSection = function () {
    var self = this, d = this.d;
    if (!d.lint.length) return null;
    return el("section", { "class": "section" }, el("h2", { text: "Lint findings (what the service would reject)" }),
      d.lint.map(function (l) {
        return el("div", { "class": "lintmsg", style: "margin:2px 0;cursor:pointer", text: secs(d.frames.t[l[0]]) + "  [" + l[1] + "] " + l[2], onclick: function () { self.showFrame(l[0]); } });
      }));
  };

  View.prototype.render = function (root) {
    this.afterMount = [];
    add(root, [this.header(), this.timeline(this.opts.scale), this.charts(), this.lintSection(), this.turnsSection(), this.framesSection()]);
  };

  // ------------------------------------------------------------ compare

  function diffMatcher(entries, side) {
    // side "-" marks what only the first capture has, "+" the second.
    var kinds = { client: {}, server: {} }, keys = { client: {}, server: {} };
    entries.forEach(function (e) {
      if (e.sign !== side || !e.dir) return;
      if (e.section === "kinds") kinds[e.dir][e.text] = true;
      else if (e.section === "bundles") kinds[e.dir][e.text.split("+").sort().join("+")] = true;
      else if (e.section === "paths") {
        var parts = e.text.split(".");
        keys[e.dir][parts[parts.length - 1].replace("[]", "")] = parts[0];
      }
    });
    return function (dir, kind, json) {
      var parts = kind.split("+");
      if (kinds[dir][parts.slice().sort().join("+")]) return true;
      for (var i = 0; i < parts.length; i++) if (kinds[dir][parts[i]]) return true;
      if (!json) return false;
      for (var key in keys[dir]) if (parts.indexOf(keys[dir][key]) >= 0 && json.indexOf('"' + key + '"') >= 0) return true;
      return false;
    };
  }

  function renderCompare(root, data) {
    var a = data.views[0], b = data.views[1];
    var scale = Math.max(a.duration, b.duration);
    var va = new View(a, 0, { scale: scale, compare: true, highlight: diffMatcher(data.diff, "-") });
    var vb = new View(b, 1, { scale: scale, compare: true, highlight: diffMatcher(data.diff, "+") });
    va.afterMount = []; vb.afterMount = [];
    var diffBox = el("section", { "class": "section" }, el("h2", { text: "Shape differences (rawlive diff)" }));
    if (!data.diff.length) diffBox.appendChild(el("p", { "class": "muted", text: "Same shape: no differences in kinds, paths, bundling, values or order." }));
    else {
      diffBox.appendChild(el("p", { "class": "muted", text: "\u2212 only in " + a.name + " \u00b7 + only in " + b.name + " \u00b7 ~ both, different. Frames and turns that carry a difference are highlighted below." }));
      var list = el("div", { "class": "diffs" }), section = null;
      data.diff.forEach(function (e) {
        if (e.section !== section) { section = e.section; list.appendChild(el("div", { "class": "sec", text: section })); }
        list.appendChild(el("div", { "class": e.sign === "-" ? "minus" : e.sign === "+" ? "plus" : "tilde", text: e.sign + " " + (e.dir ? e.dir + " " : "") + e.text }));
      });
      diffBox.appendChild(list);
    }
    add(root, [el("div", { "class": "pair" }, va.header(), vb.header()), diffBox, va.timeline(scale), vb.timeline(scale)]);
    add(root, el("div", { "class": "pair" }, va.charts() || el("div"), vb.charts() || el("div")));
    var turns = el("section", { "class": "section" }, el("h2", { text: "Turns, aligned by number" }), el("div", { "class": "pair" }, el("h3", { text: a.name }), el("h3", { text: b.name })));
    var count = Math.max(a.turns.length, b.turns.length);
    for (var i = 0; i < count; i++) {
      turns.appendChild(el("div", { "class": "pair" },
        a.turns[i] ? va.turnCard(a.turns[i], b.turns[i] ? vb.orderText(b.turns[i].n) : "") : el("div", { "class": "missing", text: "no turn " + (i + 1) + " in " + a.name }),
        b.turns[i] ? vb.turnCard(b.turns[i], a.turns[i] ? va.orderText(a.turns[i].n) : "") : el("div", { "class": "missing", text: "no turn " + (i + 1) + " in " + b.name })));
    }
    add(root, [turns, el("div", { "class": "pair" }, va.framesSection(), vb.framesSection())]);
    va.afterMount.concat(vb.afterMount).forEach(function (fn) { fn(); });
    return [va, vb];
  }

  // ------------------------------------------------------------ start

  var app = document.getElementById("app");
  app.innerHTML = "";
  var views;
  if (DATA.views.length === 2) views = renderCompare(app, DATA);
  else {
    var v = new View(DATA.views[0], 0, {});
    v.render(app);
    v.afterMount.forEach(function (fn) { fn(); });
    views = [v];
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { views.forEach(function (x) { if (x.redraw) x.redraw(); }); }, 150);
  });
  app.setAttribute("data-ready-ms", performance.now().toFixed(0));
  window.addEventListener("load", function () { app.setAttribute("data-load-ms", performance.now().toFixed(0)); });
  app.setAttribute("data-state", "ready");
})();
