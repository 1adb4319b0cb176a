// synsec dashboard: reads /ui/api/* with a machine key or token kept in session storage; draws SVG charts.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#3b6fd4", "#e0803a", "#3aa57a", "#c9486b", "#8a63c9", "#9a8a3a", "#3a9ab0", "#777777"];
const $ = (id) => document.getElementById(id);

function credentials() {
  const token = sessionStorage.getItem("synsec-token");
  if (token) return { Authorization: "Bearer " + token };
  const key = sessionStorage.getItem("synsec-key");
  return key ? { "X-Api-Key": key } : null;
}

async function api(path, method) {
  const headers = credentials();
  if (!headers) { showLogin(""); throw new Error("not logged in"); }
  const resp = await fetch(path, { method: method || "GET", headers, cache: "no-store", credentials: "omit" });
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 401 || resp.status === 403) {
    logout();
    showLogin("access refused: " + (body.message || resp.status));
    throw new Error("refused");
  }
  if (!resp.ok) throw new Error(body.message || "HTTP " + resp.status);
  return body;
}

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(box, width, height) {
  box.replaceChildren();
  const root = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  box.appendChild(root);
  return root;
}

function empty(box, text) {
  box.replaceChildren();
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = text;
  box.appendChild(p);
}

function timeLabel(t, step) {
  const d = new Date(t * 1000).toISOString();
  return step >= 86400 ? d.slice(0, 10) : d.slice(5, 16).replace("T", " ");
}

function drawTimeline(box, timeline) {
  const pts = timeline.points;
  if (!pts.length) return empty(box, "no alerts");
  const W = 900, H = 220, L = 40, B = 30, max = Math.max(...pts.map((p) => p[1]), 1);
  const root = svg(box, W, H);
  const bw = (W - L - 10) / pts.length;
  root.appendChild(el("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#999" }));
  root.appendChild(el("text", { x: L - 5, y: 14, "text-anchor": "end" }, String(max)));
  root.appendChild(el("text", { x: L - 5, y: H - B, "text-anchor": "end" }, "0"));
  pts.forEach(([t, n], i) => {
    const h = (n / max) * (H - B - 10);
    const bar = el("rect", { class: "bar", x: L + i * bw + 1, y: H - B - h, width: Math.max(bw - 2, 1), height: h,
                             fill: COLORS[0] });
    bar.appendChild(el("title", {}, `${timeLabel(t, timeline.step)}: ${n}`));
    root.appendChild(bar);
  });
  const every = Math.max(1, Math.ceil(pts.length / 6));
  pts.forEach(([t], i) => {
    if (i % every === 0) root.appendChild(el("text", { x: L + i * bw, y: H - 10 }, timeLabel(t, timeline.step)));
  });
}

function drawBars(box, rows, label, value, color) {
  if (!rows.length) return empty(box, "nothing yet");
  const W = 440, row = 24, H = rows.length * row + 4, max = Math.max(...rows.map(value), 1), L = 200;
  const root = svg(box, W, H);
  rows.forEach((r, i) => {
    const y = i * row + 2;
    root.appendChild(el("text", { x: 0, y: y + 15 }, label(r).slice(0, 32)));
    const w = (value(r) / max) * (W - L - 50);
    root.appendChild(el("rect", { class: "bar", x: L, y, width: Math.max(w, 1), height: row - 6, fill: color }));
    root.appendChild(el("text", { x: L + w + 5, y: y + 15 }, String(value(r))));
  });
}

function drawDonut(box, decisions) {
  if (!decisions.active) return empty(box, "no active decisions");
  const root = svg(box, 440, 180), cx = 90, cy = 90, r = 70;
  const parts = Object.entries(decisions.by_origin);
  let angle = -Math.PI / 2;
  parts.forEach(([origin, n], i) => {
    const color = origin === "CAPI" || origin === "lists" ? COLORS[1] : COLORS[(i % 6) + 2];
    const frac = n / decisions.active;
    if (frac >= 0.9999) {
      root.appendChild(el("circle", { class: "slice", cx, cy, r, fill: color }));
    } else {
      const end = angle + frac * 2 * Math.PI, large = frac > 0.5 ? 1 : 0;
      const d = `M${cx},${cy} L${cx + r * Math.cos(angle)},${cy + r * Math.sin(angle)} ` +
                `A${r},${r} 0 ${large} 1 ${cx + r * Math.cos(end)},${cy + r * Math.sin(end)} Z`;
      root.appendChild(el("path", { class: "slice", d, fill: color }));
      angle = end;
    }
    root.appendChild(el("rect", { x: 190, y: 20 + i * 22, width: 12, height: 12, fill: color }));
    root.appendChild(el("text", { x: 208, y: 31 + i * 22 }, `${origin}: ${n} (${Math.round(frac * 100)}%)`));
  });
  root.appendChild(el("circle", { cx, cy, r: 35, fill: "#fff" }));
  const share = Math.round((decisions.community / decisions.active) * 100);
  root.appendChild(el("text", { x: cx, y: cy + 5, "text-anchor": "middle" }, `${share}% community`));
}

function drawParse(box, rows) {
  if (!rows.length) return empty(box, "no acquisition counters yet");
  const W = 900, row = 26, L = 320, H = rows.length * row + 4;
  const root = svg(box, W, H);
  rows.forEach((r, i) => {
    const y = i * row + 2, total = Math.max(r.parsed + r.unparsed, 1), w = W - L - 160;
    root.appendChild(el("text", { x: 0, y: y + 15 }, r.source.slice(-48)));
    root.appendChild(el("rect", { class: "bar", x: L, y, width: Math.max((r.parsed / total) * w, 1), height: row - 8,
                                  fill: COLORS[2] }));
    root.appendChild(el("rect", { x: L + (r.parsed / total) * w, y, width: (r.unparsed / total) * w,
                                  height: row - 8, fill: COLORS[3] }));
    root.appendChild(el("text", { x: L + w + 5, y: y + 15 },
                        `${Math.round((r.parsed / total) * 100)}% of ${r.read} lines parsed`));
  });
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function duration(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : `${m}m${s % 60}s`;
}

function fillSources(rows) {
  const body = $("sources").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    cell(tr, r.value);
    cell(tr, r.country || "-");
    cell(tr, r.as_number || r.as_name ? `AS${r.as_number} ${r.as_name}`.trim() : "-");
    cell(tr, String(r.alerts));
    body.appendChild(tr);
  }
}

async function loadDecisions() {
  const q = $("search").value.trim();
  const data = await api("api/decisions?limit=200" + (q ? "&q=" + encodeURIComponent(q) : ""));
  $("decisions-total").textContent = `${data.total} active decision(s)` + (q ? ` matching "${q}"` : "");
  const body = $("decisions").tBodies[0];
  body.replaceChildren();
  for (const d of data.decisions) {
    const tr = document.createElement("tr");
    tr.dataset.id = d.id;
    for (const v of [String(d.id), `${d.scope}:${d.value}`, d.type, d.origin, d.scenario, duration(d.remaining)]) {
      cell(tr, v);
    }
    const button = document.createElement("button");
    button.className = "unban";
    button.textContent = "Unban";
    button.addEventListener("click", () => unban(d.id));
    cell(tr, "").appendChild(button);
    body.appendChild(tr);
  }
}

async function unban(id) {
  try {
    await api("api/decisions/" + encodeURIComponent(id), "DELETE");
    $("status").textContent = `decision ${id} deleted`;
  } catch (err) {
    $("status").textContent = `unban failed: ${err.message}`;
  }
  await refresh();
}

async function refresh() {
  try {
    const s = await api("api/summary");
    $("n-alerts").textContent = s.alerts;
    $("n-decisions").textContent = s.decisions.active;
    $("n-community").textContent = s.decisions.community;
    drawTimeline($("chart-timeline"), s.timeline);
    drawBars($("chart-scenarios"), s.top_scenarios, (r) => r.scenario, (r) => r.alerts, COLORS[0]);
    drawDonut($("chart-community"), s.decisions);
    fillSources(s.top_sources);
    drawParse($("chart-parse"), s.parse_rates);
    await loadDecisions();
    $("dash").hidden = false;
    $("login").hidden = true;
    $("logout").hidden = false;
    document.body.dataset.loaded = "1";
  } catch (err) {
    if (err.message !== "refused" && err.message !== "not logged in") $("status").textContent = err.message;
  }
}

function showLogin(text) {
  $("dash").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = text;
}

function logout() {
  sessionStorage.removeItem("synsec-key");
  sessionStorage.removeItem("synsec-token");
}

async function login(event) {
  event.preventDefault();
  logout();
  const key = $("key").value.trim(), machine = $("machine").value.trim();
  if (key) {
    sessionStorage.setItem("synsec-key", key);
  } else if (machine) {
    const resp = await fetch("/v1/watchers/login", {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
      body: JSON.stringify({ machine_id: machine, password: $("password").value }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok || !body.token) return showLogin("login failed: " + (body.message || resp.status));
    sessionStorage.setItem("synsec-token", body.token);
  } else {
    return showLogin("give a machine key, or a machine id and password");
  }
  $("key").value = $("password").value = "";
  await refresh();
}

function start() {
  const m = /(?:^#|&)key=([0-9A-Za-z._~-]+)/.exec(location.hash);
  if (m) {                       // `ccscli dashboard` prints the URL with the key in the fragment (never sent)
    logout();
    sessionStorage.setItem("synsec-key", m[1]);
    history.replaceState(null, "", location.pathname);
  }
  $("login-form").addEventListener("submit", login);
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); loadDecisions().catch(() => {}); });
  $("logout").addEventListener("click", () => { logout(); showLogin(""); });
  if (credentials()) refresh(); else showLogin("");
  setInterval(() => { if (credentials() && !$("dash").hidden) refresh(); }, 30000);
}

start();
