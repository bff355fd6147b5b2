// The dashboard's event view, at #/events/<id>: one event's whole story from
// GET /api/v1/events/<id>: where it came from, its headers (credentials masked by the
// API), its body (JSON pretty-printed, long bodies folded), and per destination where it
// stands with its attempts as a timeline (a dead letter with its Replay). Everything
// the sender controlled is set as text, never parsed as HTML (as dashboard.js).
"use strict";

const FOLD_BYTES = 4096;

function field(dl, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value === null || value === undefined ? "–" : String(value);
  dl.append(dt, dd);
}

function bodyBlock(e) {
  const pre = document.createElement("pre");
  pre.id = "event-body";
  if (e.body === undefined && e.body_base64 === undefined) {
    pre.textContent = "(not kept: with a broker, the body is kept when store.archive is true)";
    return pre;
  }
  let text = e.body !== undefined ? e.body : "base64: " + e.body_base64;
  try { if (e.body !== undefined) text = JSON.stringify(JSON.parse(e.body), null, 2); } catch (_) { /* as received */ }
  pre.textContent = text;
  if (text.length <= FOLD_BYTES) return pre;
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "body (" + text.length + " characters)";
  details.append(summary, pre);
  return details;
}

function attemptsTimeline(d) {
  const ol = document.createElement("ol");
  ol.className = "timeline";
  for (const a of d.attempts) {
    const li = document.createElement("li");
    li.className = a.status >= 200 && a.status < 300 ? "ok" : "bad";
    li.dataset.status = a.status === null ? "none" : String(a.status);
    li.textContent = a.at + "  " + (a.status === null ? "no answer" : "HTTP " + a.status) +
      "  " + a.duration_ms + " ms" + (a.error ? "  " + a.error : "");
    ol.appendChild(li);
  }
  if (d.attempts_made > d.attempts.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = (d.attempts_made - d.attempts.length) + " attempts in between not kept";
    ol.insertBefore(li, ol.children[3] || null);
  }
  return ol;
}

// A dead letter's Replay: delivered again with attempts from zero.
function replayDead(e, d) {
  const b = document.createElement("button");
  b.textContent = "Replay";
  b.addEventListener("click", () => {
    b.disabled = true;
    const q = new URLSearchParams({ route: e.route, destination: d.name, id: e.id });
    api("/api/v1/dead/replay?" + q, { method: "POST", headers: { "Content-Type": "application/json" } })
      .then(() => { $("event-status").textContent = "replayed to " + d.name; })
      .catch((err) => { $("event-status").textContent = "failed: " + err.message; b.disabled = false; });
  });
  return b;
}

function renderEvent(e) {
  const view = $("event-detail");
  view.replaceChildren();
  const dl = document.createElement("dl");
  field(dl, "id", e.id);
  field(dl, "route", e.route);
  field(dl, "type", e.type);
  field(dl, "received", e.received_at);
  field(dl, "source", e.source);
  view.appendChild(dl);
  const h = document.createElement("table");
  h.id = "event-headers";
  h.appendChild(document.createElement("tbody"));
  for (const [k, v] of Object.entries(e.headers || {})) row(h.tBodies[0], [k, v]);
  view.append(h, bodyBlock(e));
  for (const d of e.destinations) {
    const s = document.createElement("section");
    s.className = "destination";
    s.dataset.destination = d.name;
    const title = document.createElement("h3");
    title.textContent = d.name + " — " + d.status + " (" + d.attempts_made + " attempts)";
    s.append(title, attemptsTimeline(d));
    if (d.status === "dead") s.appendChild(replayDead(e, d));
    view.appendChild(s);
  }
}

function showEvent(id) {
  $("event-status").textContent = "";
  api("/api/v1/events/" + encodeURIComponent(id))
    .then(renderEvent)
    .catch((err) => { $("event-detail").textContent = "no such event: " + err.message; });
}

// A link to an event's view, for the tables of dashboard.js.
function eventLink(id) {
  const a = document.createElement("a");
  a.href = "#/events/" + encodeURIComponent(id);
  a.textContent = id;
  return a;
}

function route() {
  const m = location.hash.match(/^#\/events\/(.+)$/);
  $("event-view").hidden = !m;
  $("main-view").hidden = !!m;
  if (m) showEvent(decodeURIComponent(m[1]));
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);
