// hookgate's dashboard: polls the admin port's /metrics, /readyz and JSON API every
// second and renders with textContent only (request headers and reasons come from
// senders: never parsed as HTML). No framework, no build step.
"use strict";

const POLL_MS = 1000;
let token = sessionStorage.getItem("hookgate-token") || "";
let previous = null; // { at, routes: {route: {outcome: count}} }

const $ = (id) => document.getElementById(id);

function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  return fetch(path, Object.assign({}, options, { headers })).then(async (r) => {
    if (r.status === 401) {
      $("token-form").hidden = false;
      throw new Error("the admin API needs its token");
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
    return body;
  });
}

// Prometheus text: name{labels} value.
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function quantile(buckets, q) {
  // buckets: [[le, cumulative count]], sorted by le; linear within a bucket.
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (!isFinite(le)) return prevLe;
      const inBucket = count - prevCount;
      return prevLe + (inBucket ? (le - prevLe) * (rank - prevCount) / inBucket : 0);
    }
    prevLe = le; prevCount = count;
  }
  return prevLe;
}

function ms(seconds) {
  if (seconds === null) return "–";
  return seconds < 0.001 ? (seconds * 1e6).toFixed(0) + " µs" : (seconds * 1e3).toFixed(1) + " ms";
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c);
    else {
      td.textContent = c === null || c === undefined ? "–" : String(c);
      if (typeof c === "number") td.className = "num";
    }
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

function fill(id, items, cells, empty) {
  const tbody = $(id).tBodies[0];
  tbody.replaceChildren();
  if (!items.length) {
    const tr = row(tbody, [empty]);
    tr.firstChild.colSpan = $(id).tHead.rows[0].cells.length;
    tr.className = "muted";
  }
  for (const item of items) row(tbody, cells(item));
}

const REFUSED = (o) => !["accepted", "duplicate", "handshake", "proxied"].includes(o);

function renderRoutes(metrics) {
  const now = performance.now();
  const routes = {};
  const buckets = {};
  for (const s of metrics) {
    if (s.name === "hookgate_requests_total") {
      (routes[s.labels.route] ||= {})[s.labels.outcome] = s.value;
    } else if (s.name === "hookgate_request_duration_seconds_bucket") {
      (buckets[s.labels.route] ||= []).push([Number(s.labels.le), s.value]);
    }
  }
  const dt = previous ? (now - previous.at) / 1000 : 0;
  const rate = (route, pick) => {
    if (!previous || !previous.routes[route] || dt <= 0) return "–";
    let d = 0;
    for (const [o, v] of Object.entries(routes[route])) {
      if (pick(o)) d += v - (previous.routes[route][o] || 0);
    }
    return (d / dt).toFixed(1);
  };
  const sum = (route, pick) => Object.entries(routes[route]).filter(([o]) => pick(o)).reduce((a, [, v]) => a + v, 0);
  const names = Object.keys(routes).filter((r) => r !== "none" || sum(r, () => true) > 0).sort();
  fill("routes", names, (r) => {
    const b = (buckets[r] || []).sort((x, y) => x[0] - y[0]);
    return [r, rate(r, (o) => o === "accepted"), rate(r, (o) => o === "duplicate"), rate(r, REFUSED),
      sum(r, (o) => o === "accepted"), sum(r, REFUSED), ms(quantile(b, 0.5)), ms(quantile(b, 0.99))];
  }, "no routes");
  for (const tr of $("routes").tBodies[0].rows) tr.dataset.route = tr.cells[0].textContent;
  previous = { at: now, routes };
}

function renderStatus(metrics, readyText, status) {
  const ready = $("ready");
  ready.textContent = readyText.trim();
  ready.className = "pill " + (readyText.startsWith("ready") ? (readyText.includes("spooling") || readyText.includes("WARNING") ? "warn" : "ok") : "bad");
  const broker = $("broker");
  if (status.mode === "store") {
    broker.textContent = "embedded store";
    broker.className = "pill ok";
  } else {
    broker.textContent = (status.broker_connected ? "broker connected" : "broker DOWN") + ", spool " + status.spool_depth;
    broker.className = "pill " + (status.broker_connected ? (status.spool_depth ? "warn" : "ok") : "bad");
  }
}

function replayButton(d) {
  const b = document.createElement("button");
  b.textContent = "Replay";
  b.dataset.id = d.id;
  b.addEventListener("click", () => {
    b.disabled = true;
    const q = new URLSearchParams({ route: d.route, destination: d.destination, id: d.id });
    api("/api/v1/dead/replay?" + q, { method: "POST", headers: { "Content-Type": "application/json" } })
      .then((v) => { $("replay-status").textContent = "replayed " + d.id + " (" + v.length + " dead letter(s)) to " + d.destination; })
      .catch((e) => { $("replay-status").textContent = "replay failed: " + e.message; b.disabled = false; });
  });
  return b;
}

// Pause or resume a destination (kept across restarts; its events wait in the store).
function pauseButton(d) {
  const b = document.createElement("button");
  const action = d.paused ? "resume" : "pause";
  b.textContent = d.paused ? "Resume" : "Pause";
  b.dataset.destination = d.route + "/" + d.destination;
  b.addEventListener("click", () => {
    b.disabled = true;
    const q = new URLSearchParams({ route: d.route, destination: d.destination });
    api("/api/v1/destinations/" + action + "?" + q, { method: "POST", headers: { "Content-Type": "application/json" } })
      .then(() => { $("replay-status").textContent = action + "d " + d.route + "/" + d.destination; })
      .catch((e) => { $("replay-status").textContent = action + " failed: " + e.message; b.disabled = false; });
  });
  return b;
}

async function poll() {
  try {
    const [metricsText, readyText, status, destinations, dead, rejections] = await Promise.all([
      fetch("/metrics").then((r) => r.text()),
      fetch("/readyz").then((r) => r.text()),
      api("/api/v1/status"),
      api("/api/v1/destinations"),
      api("/api/v1/dead?limit=20"),
      api("/api/v1/rejections?limit=20"),
    ]);
    const metrics = parseMetrics(metricsText);
    renderStatus(metrics, readyText, status);
    renderRoutes(metrics);
    fill("destinations", destinations, (d) => [d.route, d.destination, d.url, d.backlog,
      d.oldest_pending_seconds ? d.oldest_pending_seconds + " s" : "–", d.circuit_open ? "OPEN" : "closed", d.dead_letters,
      d.paused ? "paused" : "delivering", pauseButton(d)], "no destinations");
    fill("dead", dead, (d) => {
      const last = d.attempts.history[d.attempts.history.length - 1] || {};
      return [eventLink(d.id), d.route, d.destination, d.event_type, d.attempts.n, last.error || (last.status ? "HTTP " + last.status : ""), replayButton(d)];
    }, "no dead letters");
    fill("rejections", rejections, (r) => [rejectionLink(r, r.received_at), r.route, r.source_ip, r.code, r.reason,
      r.body_bytes === null ? "not read" : r.body_bytes + " B"], "no rejections");
    await pollSeries();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("updated").textContent = "update failed: " + e.message;
  }
  setTimeout(poll, POLL_MS);
}

function search(event) {
  event.preventDefault();
  const id = $("search-id").value.trim();
  const out = $("search-result");
  if (!id) return;
  const q = new URLSearchParams({ id });
  Promise.all([api("/api/v1/events?" + q), api("/api/v1/dead?" + q)]).then(([events, dead]) => {
    out.replaceChildren();
    const table = document.createElement("table");
    table.id = "search-table";
    table.appendChild(document.createElement("tbody"));
    out.appendChild(table);
    for (const e of events) row(table.tBodies[0], [e.table, e.route, eventLink(e.id), e.event_type, e.received_at, e.source_ip, e.body_len + " B"]);
    for (const d of dead) row(table.tBodies[0], ["dead letter", d.route, eventLink(d.id), d.event_type, d.destination, d.attempts.n + " attempts", ""]);
    if (!events.length && !dead.length) out.textContent = "no event with id " + id;
  }).catch((e) => { out.textContent = "search failed: " + e.message; });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", search);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value;
    sessionStorage.setItem("hookgate-token", token);
    $("token-form").hidden = true;
  });
  poll();
});
