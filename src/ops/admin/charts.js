// The dashboard's charts: the last 15 minutes of each route (accepted and refused per
// second, answer p50/p99) and each destination (delivered and failed per second,
// backlog), from the gateway's ring (GET /api/v1/series, a sample every 5 s). Drawn as
// plain SVG; names come from the configuration but are still set as text only.
"use strict";

const WINDOW_MS = 15 * 60 * 1000;
const SVG = "http://www.w3.org/2000/svg";
const W = 300, H = 90, PAD_L = 4, PAD_T = 16, PAD_B = 14;
const samples = []; // oldest first, as the API gives them
let stepSeconds = 5;

function svgEl(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// One chart: a figure with its title, an SVG of lines over the window, and a legend with
// the latest values. Kept by key and redrawn in place, so the page does not flicker.
function chart(panel, key, title, lines, unit) {
  let fig = panel.querySelector('figure[data-chart="' + CSS.escape(key) + '"]');
  if (!fig) {
    fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.chart = key;
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    const svg = svgEl("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    svg.setAttribute("aria-label", title);
    const legend = document.createElement("div");
    legend.className = "legend";
    fig.append(cap, svg, legend);
    panel.appendChild(fig);
  }
  const svg = fig.querySelector("svg");
  const now = samples.length ? samples[samples.length - 1].at : Date.now();
  const from = now - WINDOW_MS;
  let max = 0;
  for (const l of lines) for (const [, v] of l.points) if (v !== null && v > max) max = v;
  const top = niceMax(max);
  const x = (t) => PAD_L + (W - 2 * PAD_L) * (t - from) / WINDOW_MS;
  const y = (v) => PAD_T + (H - PAD_T - PAD_B) * (1 - v / top);
  const nowLabel = text(W - PAD_L, H - 2, "now");
  nowLabel.setAttribute("text-anchor", "end");
  svg.replaceChildren(
    svgEl("line", { x1: PAD_L, x2: W - PAD_L, y1: H - PAD_B, y2: H - PAD_B, class: "axis" }),
    text(PAD_L, 11, "max " + fmt(top) + unit),
    text(PAD_L, H - 2, "15 min ago"),
    nowLabel,
  );
  const legend = fig.querySelector(".legend");
  legend.replaceChildren();
  for (const l of lines) {
    const pts = l.points.filter(([t, v]) => t >= from && v !== null).map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1));
    const p = svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: l.color, "stroke-width": 1.5 });
    p.dataset.series = l.label;
    svg.appendChild(p);
    const last = l.points.length ? l.points[l.points.length - 1][1] : null;
    const item = document.createElement("span");
    item.style.color = l.color;
    item.textContent = l.label + " " + (last === null ? "–" : fmt(last) + unit);
    legend.appendChild(item);
  }
}

function text(x, y, s) {
  const t = svgEl("text", { x, y, class: "label" });
  t.textContent = s;
  return t;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, "") || "0";
}

// The values of one field of one route or destination over the kept samples.
function points(kind, name, pick) {
  return samples.map((s) => {
    const v = s[kind][name];
    return [s.at, v === undefined ? null : pick(v, s)];
  });
}

function names(kind) {
  const all = new Set();
  for (const s of samples) for (const n of Object.keys(s[kind])) all.add(n);
  return [...all].sort();
}

function drawCharts() {
  // Over the sample's real span: longer than a step after a stall of the gateway.
  const perSecond = (f) => (v, s) => v[f] / (s.seconds || stepSeconds);
  const routes = $("route-charts");
  for (const r of names("routes").filter((r) => r !== "none" || samples.some((s) => s.routes.none && s.routes.none.refused))) {
    chart(routes, "rate:" + r, r + " — requests/s", [
      { label: "accepted", color: "#1f8a4c", points: points("routes", r, perSecond("accepted")) },
      { label: "refused", color: "#c0392b", points: points("routes", r, perSecond("refused")) },
    ], "/s");
    chart(routes, "time:" + r, r + " — answer time", [
      { label: "p50", color: "#2f6fd6", points: points("routes", r, (v) => v.p50_ms === undefined ? null : v.p50_ms) },
      { label: "p99", color: "#c77d10", points: points("routes", r, (v) => v.p99_ms === undefined ? null : v.p99_ms) },
    ], " ms");
  }
  const dests = $("destination-charts");
  for (const d of names("destinations")) {
    chart(dests, "rate:" + d, d + " — attempts/s", [
      { label: "delivered", color: "#1f8a4c", points: points("destinations", d, perSecond("delivered")) },
      { label: "failed", color: "#c0392b", points: points("destinations", d, perSecond("failed")) },
    ], "/s");
    chart(dests, "backlog:" + d, d + " — backlog", [
      { label: "backlog", color: "#5a6372", points: points("destinations", d, (v) => v.backlog) },
    ], "");
  }
}

// Called by dashboard.js's poll: the samples taken since the last one kept.
async function pollSeries() {
  const since = samples.length ? samples[samples.length - 1].at : 0;
  const got = await api("/api/v1/series?since=" + since);
  stepSeconds = got.step_seconds || stepSeconds;
  if (!got.samples.length && samples.length) return;
  samples.push(...got.samples);
  const from = samples.length ? samples[samples.length - 1].at - WINDOW_MS : 0;
  while (samples.length && samples[0].at < from) samples.shift();
  drawCharts();
}
