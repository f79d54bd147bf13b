// aeronpy dashboard: polls /api/state, draws plots on <canvas>, runs the sizing calculator.
"use strict";

const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];
const streamCards = new Map();

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  const d = digits === undefined ? 0 : digits;
  return v.toLocaleString("en-US", { maximumFractionDigits: d });
}

function human(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return a >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1);
}

// series: [{label, points: [[t_ms, value|null], ...]}]; draws the last `spanMs` up to now.
function drawPlot(canvas, series, spanMs) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  const left = 48, right = 8, top = 8, bottom = 34;
  ctx.clearRect(0, 0, w, h);
  const now = Date.now();
  const t0 = now - spanMs;
  let max = 0;
  for (const s of series) for (const [t, v] of s.points) if (t >= t0 && v !== null && v > max) max = v;
  if (max <= 0) max = 1;
  max *= 1.1;
  ctx.font = "11px sans-serif";
  ctx.strokeStyle = "#e1e5ea";
  ctx.fillStyle = "#667";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + (h - top - bottom) * (1 - i / 4);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
    ctx.fillText(human(max * i / 4), 4, y + 4);
  }
  for (let m = 0; m <= spanMs / 60000; m++) {
    const x = left + (w - left - right) * (1 - (m * 60000) / spanMs);
    ctx.fillText(m === 0 ? "now" : "-" + m + "m", x - 10, h - bottom + 13);
  }
  const xOf = (t) => left + (w - left - right) * (t - t0) / spanMs;
  const yOf = (v) => top + (h - top - bottom) * (1 - v / max);
  series.forEach((s, i) => {
    ctx.strokeStyle = COLORS[i % COLORS.length];
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (t < t0 || v === null || v === undefined) { pen = false; continue; }
      if (pen) ctx.lineTo(xOf(t), yOf(v)); else ctx.moveTo(xOf(t), yOf(v));
      pen = true;
    }
    ctx.stroke();
  });
  let lx = left;
  series.forEach((s, i) => {
    ctx.fillStyle = COLORS[i % COLORS.length];
    ctx.fillRect(lx, h - 14, 10, 8);
    ctx.fillStyle = "#333";
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    const text = s.label + " " + human(last);
    ctx.fillText(text, lx + 13, h - 6);
    lx += ctx.measureText(text).width + 26;
  });
}

function historySeries(history, pick, label) {
  return { label: label, points: history.map((p) => [p.t, p.up ? pick(p) : null]) };
}

function renderDriver(state) {
  const d = state.driver;
  const el = document.getElementById("driver-status");
  if (d.up) {
    el.textContent = "driver running — pid " + d.pid + ", heartbeat " + d.heartbeat_age_ms + " ms ago, " +
      d.clients + " client(s)";
    el.className = "status up";
  } else {
    el.textContent = "driver not running" + (d.error ? ": " + d.error : "");
    el.className = "status down";
  }
  const facts = document.getElementById("driver-facts");
  if (d.up) {
    const s = state.system, r = state.system_rates;
    const item = (name, v, rate) => "<span>" + name + ": <b>" + fmt(v) + "</b>" +
      (rate !== undefined ? " (" + human(rate) + "/s)" : "") + "</span>";
    facts.innerHTML = [
      item("clients", d.clients), item("heartbeat age ms", d.heartbeat_age_ms),
      item("bytes sent", s.bytes_sent, r.bytes_sent), item("bytes received", s.bytes_received, r.bytes_received),
      item("NAKs sent", s.naks_sent, r.naks_sent), item("NAKs received", s.naks_received, r.naks_received),
      item("retransmits", s.retransmits_sent, r.retransmits_sent), item("gap fills", s.loss_gap_fills, r.loss_gap_fills),
      item("back pressure", s.back_pressure, r.back_pressure), item("errors", s.errors, r.errors),
    ].join("");
  } else {
    facts.innerHTML = "";
  }
  const h = state.history, span = h.length * state.interval_s * 1000;
  const spanMs = Math.max(60000, Math.min(span, 300000));
  const rate = (name) => (p) => p.system_rates ? p.system_rates[name] : null;
  drawPlot(document.getElementById("plot-system"), [
    historySeries(h, rate("naks_sent"), "NAKs sent"),
    historySeries(h, rate("naks_received"), "NAKs rcvd"),
    historySeries(h, rate("retransmits_sent"), "retransmits"),
    historySeries(h, rate("loss_gap_fills"), "gap fills"),
    historySeries(h, rate("back_pressure"), "back pressure"),
    historySeries(h, rate("errors"), "errors"),
  ], spanMs);
  drawPlot(document.getElementById("plot-heartbeat"), [
    historySeries(h, (p) => p.heartbeat_age_ms, "heartbeat age ms"),
    historySeries(h, (p) => p.clients, "clients"),
  ], spanMs);
  return spanMs;
}

function streamCard(key) {
  let card = streamCards.get(key);
  if (card) return card;
  const div = document.createElement("div");
  div.className = "stream";
  div.dataset.key = key;
  div.innerHTML = '<h3></h3><table class="numbers"></table><div class="plots">' +
    '<figure><figcaption>Rates</figcaption><canvas class="rates" width="560" height="180"></canvas></figure>' +
    '<figure><figcaption>Lag and receiver hwm − position (bytes)</figcaption>' +
    '<canvas class="lag" width="560" height="180"></canvas></figure>' +
    '<figure><figcaption>Positions: publisher, receiver hwm, receiver</figcaption>' +
    '<canvas class="positions" width="560" height="180"></canvas></figure></div>';
  document.getElementById("streams").appendChild(div);
  card = { div: div };
  streamCards.set(key, card);
  return card;
}

function renderStreams(state, spanMs) {
  const container = document.getElementById("streams");
  const keys = new Set(state.streams.map((s) => s.key));
  for (const [key, card] of streamCards) {
    if (!keys.has(key)) { card.div.remove(); streamCards.delete(key); }
  }
  const empty = container.querySelector(".empty");
  if (state.streams.length === 0) {
    if (!empty) container.innerHTML = '<p class="empty">no streams</p>';
    return;
  }
  if (empty) empty.remove();
  for (const s of state.streams) {
    const card = streamCard(s.key);
    card.div.querySelector("h3").innerHTML = "stream " + s.stream + " · session " + s.session +
      " · <code></code>";
    card.div.querySelector("h3 code").textContent = s.channel;
    const rows = [
      ["messages/s", human(s.msg_rate)], ["bytes/s", human(s.byte_rate)],
      ["publisher position", fmt(s.pub_pos)], ["publisher limit", fmt(s.pub_lmt)],
      ["sender position", fmt(s.snd_pos)], ["receiver hwm", fmt(s.rcv_hwm)],
      ["receiver position", fmt(s.rcv_pos)], ["subscriber positions", s.sub_pos.map((v) => fmt(v)).join(", ") || "–"],
      ["lag (pub − slowest sub)", fmt(s.lag)], ["hwm − position", fmt(s.hwm_gap)],
      ["back-pressure events", fmt(s.back_pressure)], ["NAKs received (sender)", fmt(s.naks_received)],
      ["NAKs sent (receiver)", fmt(s.naks_sent)],
    ];
    card.div.querySelector("table.numbers").innerHTML = rows.map(
      (r) => "<tr><td>" + r[0] + '</td><td class="num">' + r[1] + "</td></tr>").join("");
    const pick = (field) => (p) => (p.streams && p.streams[s.key]) ? p.streams[s.key][field] : null;
    const h = state.history;
    drawPlot(card.div.querySelector("canvas.rates"), [
      historySeries(h, pick("msg_rate"), "msg/s"),
      historySeries(h, (p) => { const v = pick("byte_rate")(p); return v === null ? null : v / 1000; }, "kB/s"),
      historySeries(h, pick("back_pressure_rate"), "back pressure/s"),
    ], spanMs);
    drawPlot(card.div.querySelector("canvas.lag"), [
      historySeries(h, pick("lag"), "lag"), historySeries(h, pick("hwm_gap"), "hwm − pos"),
    ], spanMs);
    drawPlot(card.div.querySelector("canvas.positions"), [
      historySeries(h, pick("pub_pos"), "pub-pos"), historySeries(h, pick("rcv_hwm"), "rcv-hwm"),
      historySeries(h, pick("rcv_pos"), "rcv-pos"),
    ], spanMs);
  }
}

function renderErrors(state) {
  const errors = state.errors || [];
  const badge = document.getElementById("error-count");
  badge.textContent = String(errors.length);
  badge.className = errors.length ? "badge bad" : "badge";
  const box = document.getElementById("errors");
  if (!errors.length) { box.innerHTML = '<p class="empty">no errors</p>'; return; }
  box.innerHTML = "";
  for (const e of errors) {
    const div = document.createElement("div");
    div.className = "error-entry";
    div.textContent = e.count + " × (last " + new Date(e.last_ms).toLocaleTimeString() + "): " + e.text;
    box.appendChild(div);
  }
}

async function poll() {
  try {
    const r = await fetch("/api/state", { cache: "no-store" });
    const state = await r.json();
    const spanMs = renderDriver(state);
    renderStreams(state, spanMs);
    renderErrors(state);
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    const el = document.getElementById("driver-status");
    el.textContent = "dashboard server unreachable";
    el.className = "status down";
  }
  setTimeout(poll, 1000);
}

async function calculate(event) {
  if (event) event.preventDefault();
  const form = document.getElementById("sizing-form");
  const query = new URLSearchParams(new FormData(form)).toString();
  const r = await fetch("/api/sizing?" + query, { cache: "no-store" });
  const data = await r.json();
  const table = document.getElementById("sizing-result");
  const errorBox = document.getElementById("sizing-error");
  const warnings = document.getElementById("sizing-warnings");
  const constraints = document.getElementById("sizing-constraints");
  if (!r.ok) {
    errorBox.textContent = data.error;
    table.className = "hidden";
    warnings.innerHTML = "";
    constraints.innerHTML = "";
    return;
  }
  errorBox.textContent = "";
  const body = table.querySelector("tbody");
  body.innerHTML = "";
  for (const q of data.quantities) {
    const tr = document.createElement("tr");
    tr.dataset.key = q.key;
    const cells = [q.label + (q.prop ? " (" + q.prop + ")" : ""), q.min_text, q.recommended_text,
      q.rule + (q.note ? " — " + q.note : ""), q.why ? q.decides + ": " + q.why : q.decides];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1 || i === 2) td.className = "num";
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  table.className = "";
  constraints.innerHTML = "";
  for (const c of data.constraints) {
    const p = document.createElement("div");
    const state = c.name === "rmem_max" ? "check" : (c.ok ? "ok" : "VIOLATED");
    p.className = c.ok ? "ok" : "bad";
    p.textContent = "Constraint " + c.name + " (" + c.config + "): " + state + " — " + c.text;
    constraints.appendChild(p);
  }
  warnings.innerHTML = "";
  for (const w of data.warnings) {
    const li = document.createElement("li");
    li.textContent = w;
    warnings.appendChild(li);
  }
  document.body.dataset.sizing = String(Number(document.body.dataset.sizing || 0) + 1);
}

document.getElementById("sizing-form").addEventListener("submit", calculate);
poll();
calculate();
