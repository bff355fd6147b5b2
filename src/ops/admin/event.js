// The dashboard's event view, at #/events/<id>: one event's whole story from
// GET /api/v1/events/<id>: where it came from, its headers (credentials masked by the
// API), its body (JSON pretty-printed, long bodies folded), and per destination where it
// stands with its attempts as a timeline (a dead letter with its Replay). The rejection
// view, at #/rejections/<seq>: why a request was refused, its masked headers, its body's
// size and hash, and Replay when the request was captured. Everything the sender
// controlled is set as text, never parsed as HTML (as dashboard.js).
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

// The view emptied, then its fields (pairs; an undefined value is left out) and the
// headers as a table (pairs of name and value, as the API masked them).
function detail(fields, headers) {
  const view = $("event-detail");
  view.replaceChildren();
  const dl = document.createElement("dl");
  for (const [name, value] of fields) if (value !== undefined) field(dl, name, value);
  const h = document.createElement("table");
  h.id = "event-headers";
  h.appendChild(document.createElement("tbody"));
  for (const [k, v] of headers) row(h.tBodies[0], [k, v]);
  view.append(dl, h);
  return view;
}

function renderEvent(e) {
  const view = detail([["id", e.id], ["route", e.route], ["type", e.type],
    ["received", e.received_at], ["source", e.source]], Object.entries(e.headers || {}));
  view.appendChild(bodyBlock(e));
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

function renderRejection(r) {
  const view = detail([
    ["route", r.route], ["received", r.received_at], ["source", r.source_ip],
    ["answer", r.status + " " + r.code], ["reason", r.reason], ["request", r.method + " " + r.path],
    ["body", r.body_bytes === null ? "not read" : r.body_bytes + " bytes, SHA-256 " + r.body_sha256],
    ["repeats", r.repeats ? r.repeats + " more, the last at " + r.last_at : undefined],
    ["replayed as", r.replayed_as || undefined],
  ], r.headers);
  if (!r.replayable) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "recorded without its body (store.rejections.capture_body is off): it cannot be replayed";
    view.appendChild(p);
    return;
  }
  // Verified again with today's configuration; kept like any accepted event if it passes.
  const b = document.createElement("button");
  b.textContent = "Replay";
  b.addEventListener("click", () => {
    b.disabled = true;
    api("/api/v1/rejections/replay?seq=" + encodeURIComponent(r.seq), { method: "POST", headers: { "Content-Type": "application/json" } })
      .then((v) => { $("event-status").textContent = "replayed: " + v.status + " as " + v.id; })
      .catch((err) => { $("event-status").textContent = "replay refused: " + err.message; b.disabled = false; });
  });
  view.appendChild(b);
}

function showRejection(seq) {
  $("view-title").textContent = "Rejection";
  $("event-status").textContent = "";
  api("/api/v1/rejections?seq=" + encodeURIComponent(seq))
    .then((found) => {
      if (!found.length) throw new Error("not in the log (pushed out, or older than max_age)");
      renderRejection(found[0]);
    })
    .catch((err) => { $("event-detail").textContent = "no such rejection: " + err.message; });
}

// A link to a rejection's view.
function rejectionLink(r, text) {
  const a = document.createElement("a");
  a.href = "#/rejections/" + r.seq;
  a.textContent = text;
  return a;
}

function showEvent(id) {
  $("view-title").textContent = "Event";
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
  const event = location.hash.match(/^#\/events\/(.+)$/);
  const rejection = location.hash.match(/^#\/rejections\/(\d+)$/);
  $("event-view").hidden = !event && !rejection;
  $("main-view").hidden = !$("event-view").hidden;
  if (event) showEvent(decodeURIComponent(event[1]));
  if (rejection) showRejection(rejection[1]);
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);
