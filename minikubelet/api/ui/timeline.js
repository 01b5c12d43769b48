// The pod timeline page: polls /debug/timeline?since=SEQ every second and draws, per pod, one
// SVG with swimlanes on a shared time axis: the pod's phase and conditions, its events, and
// per container (init containers and sidecars first) its states, back-off waits, started,
// ready, hooks and kills, and one lane of probe ticks per probe type. No network but the
// daemon, no build step. `?pod=namespace/name` shows one pod.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const LABEL_W = 190, LANE_H = 18, GAP = 4, AXIS_H = 22;
const params = new URLSearchParams(location.search);
const onePod = params.get("pod");
const state = { seq: 0, records: [], pxPerSec: Number(params.get("scale")) || 0, failures: 0 };

function el(name, attrs, parent, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function title(node, text) { el("title", {}, node, text); return node; }

function fmtTime(t) { return new Date(t * 1000).toISOString().slice(11, 23); }

// --- from records to lanes -------------------------------------------------------------------

function lanesOf(recs, end) {
  const created = recs.find(r => r.kind === "created");
  const containers = new Map();
  const order = [];
  const addContainer = (name, init, sidecar, probes) => {
    if (!containers.has(name)) {
      containers.set(name, { name, init, sidecar, probes: probes || {}, records: [] });
      order.push(name);
    }
  };
  if (created) for (const c of created.containers || []) addContainer(c.name, c.init, c.sidecar, c.probes);
  const pod = { phase: [], conditions: new Map(), events: [] };
  for (const r of recs) {
    if (r.container) addContainer(r.container, !!r.init, false, {});
    if (r.kind === "event") pod.events.push(r);
    else if (r.kind === "phase") pod.phase.push(r);
    else if (r.kind === "condition") {
      if (!pod.conditions.has(r.type)) pod.conditions.set(r.type, []);
      pod.conditions.get(r.type).push(r);
    }
    if (r.container && r.kind !== "event") containers.get(r.container).records.push(r);
  }
  const lanes = [];
  lanes.push({ id: "pod:phase", label: "phase", bands: bands(pod.phase, end, r => r.phase, r => "phase-" + r.phase) });
  for (const [type, rs] of pod.conditions) {
    lanes.push({ id: "pod:condition:" + type, label: type, bands: bands(rs, end, r => r.reason || r.status, r => "cond-" + r.status) });
  }
  lanes.push({ id: "pod:events", label: "events", events: pod.events });
  for (const name of order) {
    const c = containers.get(name);
    const kind = c.sidecar ? "sidecar" : c.init ? "init" : "container";
    const rs = c.records;
    const states = rs.filter(r => r.kind === "state");
    lanes.push({
      id: "container:" + name, label: `${name} (${kind})`, container: name, header: true,
      bands: bands(states, end, stateLabel, r => "state-" + r.state + (r.exitCode === 0 ? " exit-0" : "")),
      backoffs: rs.filter(r => r.kind === "backoff"),
    });
    lanes.push({ id: "container:" + name + ":started", label: "  started", container: name,
      bands: bands(rs.filter(r => r.kind === "started"), end, r => String(r.value), r => "flag-" + r.value) });
    lanes.push({ id: "container:" + name + ":ready", label: "  ready", container: name,
      bands: bands(rs.filter(r => r.kind === "ready"), end, r => String(r.value), r => "flag-" + r.value) });
    if (rs.some(r => r.kind === "hook" || r.kind === "kill")) {
      lanes.push({ id: "container:" + name + ":hooks", label: "  hooks, kills", container: name, spans: spans(rs, end) });
    }
    const types = new Set([...Object.keys(c.probes), ...rs.filter(r => r.kind === "probe").map(r => r.probe)]);
    for (const probe of ["startup", "readiness", "liveness"]) {
      if (!types.has(probe)) continue;
      const delay = (c.probes[probe] || {}).initialDelaySeconds || 0;
      const windows = delay > 0 ? states.filter(r => r.state === "running").map(r => [r.t, r.t + delay]) : [];
      lanes.push({ id: "container:" + name + ":probe:" + probe, label: "  " + probe, container: name,
        ticks: rs.filter(r => r.kind === "probe" && r.probe === probe), delays: windows,
        timing: timingOf(created, name, probe) });
    }
  }
  return lanes;
}

// --- probe timing: the windows `minikubelet explain` computes, from the created record -------

const WINDOWS = [
  ["firstProbe", "first probe"], ["startupBudget", "startup budget"],
  ["readyAfterHealthy", "ready after healthy"], ["unreadyAfterUnhealthy", "unready after failing"],
  ["killAfterUnhealthy", "killed after failing"],
];

function timingOf(created, container, probe) {
  return ((created && created.timing) || []).find(t => t.container === container && t.probe === probe);
}

function win(w) { return w ? (w[0] === w[1] ? `${w[0]}s` : `${w[0]}-${w[1]}s`) : ""; }

function timingText(t) {
  const parts = WINDOWS.filter(([key]) => t[key]).map(([key, name]) => `${name} ${win(t[key])}`);
  return parts.concat(t.warnings || []).join("; ");
}

function timingTable(pod, recs) {
  const created = recs.find(r => r.kind === "created");
  const rows = (created && created.timing) || [];
  const table = document.createElement("table");
  table.className = "timing";
  table.dataset.pod = pod;
  if (!rows.length) return table;
  const head = table.insertRow();
  for (const text of ["container", "probe", ...WINDOWS.map(([, name]) => name), "warnings"]) {
    const th = document.createElement("th");
    th.textContent = text;
    head.appendChild(th);
  }
  for (const t of rows) {
    const tr = table.insertRow();
    tr.dataset.container = t.container;
    tr.dataset.probe = t.probe;
    tr.insertCell().textContent = t.container;
    tr.insertCell().textContent = t.probe;
    for (const [key] of WINDOWS) {
      const td = tr.insertCell();
      td.dataset.key = key;
      if (t[key]) td.dataset.window = t[key].join(",");
      td.textContent = win(t[key]) || "-";
    }
    const warn = tr.insertCell();
    warn.className = "warnings";
    warn.textContent = (t.warnings || []).join("; ");
  }
  return table;
}

function stateLabel(r) {
  if (r.state === "terminated") return `${r.reason || "Error"} (${r.exitCode})`;
  if (r.reason === "CrashLoopBackOff") return "";  // the hatched wait over it says it
  return r.reason || r.state;
}

function bands(rs, end, label, cls) {
  const out = [];
  rs.forEach((r, i) => {
    const until = i + 1 < rs.length ? rs[i + 1].t : end;
    out.push({ from: r.t, to: until, label: label(r), cls: cls(r), rec: r });
  });
  return out;
}

function spans(rs, end) {
  const out = [], hooks = [];
  let kill = null;
  for (const r of rs) {
    if (r.kind === "hook") hooks.push({ from: r.began, to: r.began + r.seconds, cls: "hook", label: r.hook, rec: r,
      title: `${r.hook} hook, ${r.seconds.toFixed(2)}s${r.error ? ": " + r.error : ""}` });
    if (r.kind === "kill") kill = { from: r.t, to: end, cls: "grace", label: `${r.signal}, grace ${r.grace}s`, rec: r,
      title: `${r.message}: ${r.signal}, grace ${r.grace}s` };
    if (r.kind === "killed" && kill) {
      kill.to = r.t; kill.sigkill = r.signal === "SIGKILL"; out.push(kill); kill = null;
    }
  }
  if (kill) out.push(kill);
  return out.concat(hooks);  // drawn over the grace period they run in
}

// --- drawing -----------------------------------------------------------------------------------

function draw(podKey, recs, now, viewWidth) {
  const t0 = recs[0].t;
  const end = Math.max(now, recs[recs.length - 1].t);
  const lanes = lanesOf(recs, end);
  const span = Math.max(end - t0, 1);
  const fit = Math.max(((viewWidth || 1200) - LABEL_W - 24) / span, 0.5);
  const px = state.pxPerSec || fit;
  const width = LABEL_W + span * px + 20;
  const height = AXIS_H + lanes.length * (LANE_H + GAP) + 10;
  const x = t => LABEL_W + (t - t0) * px;
  const svg = el("svg", { width, height, "data-pod": podKey, "data-t0": t0, "data-px-per-sec": px });
  const defs = el("defs", {}, svg);
  const hatch = el("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
  el("rect", { width: 6, height: 6, fill: "#fff" }, hatch);
  el("rect", { width: 3, height: 6, fill: "#c73a3a" }, hatch);
  axis(svg, t0, end, x, height);
  lanes.forEach((lane, i) => {
    const y = AXIS_H + i * (LANE_H + GAP);
    const g = el("g", { class: "lane", "data-lane": lane.id, transform: `translate(0,${y})` }, svg);
    el("rect", { class: "lane-bg", x: LABEL_W, y: 0, width: width - LABEL_W, height: LANE_H }, g);
    g.texts = el("g", { class: "texts" });
    for (const b of lane.bands || []) band(g, b, x, b.cls + " band");
    for (const b of lane.backoffs || []) {
      const r = band(g, { from: b.t, to: b.t + b.delay, label: `back-off ${b.delay}s`, rec: b }, x, "backoff");
      r.setAttribute("data-delay", b.delay);
    }
    for (const [from, to] of lane.delays || []) {
      el("rect", { class: "delay", x: x(from), y: 0, width: Math.max((to - from) * px, 1), height: LANE_H, "data-from": from, "data-to": to }, g);
    }
    for (const s of lane.spans || []) {
      const r = band(g, s, x, s.cls);
      if (s.title) title(r, s.title);
      if (s.sigkill) title(el("line", { class: "sigkill", x1: x(s.to), x2: x(s.to), y1: 0, y2: LANE_H }, g), "SIGKILL");
    }
    for (const t of lane.ticks || []) tick(g, t, x);
    for (const e of lane.events || []) {
      const cx = x(e.t);
      const m = el("path", { class: "event event-" + e.type, d: `M${cx} 2 L${cx + 5} 9 L${cx} 16 L${cx - 5} 9 Z`, "data-seq": e.seq, "data-reason": e.reason }, g);
      title(m, `${fmtTime(e.t)} ${e.container ? e.container + ": " : ""}${e.reason}: ${e.message}${e.count > 1 ? " (x" + e.count + ")" : ""}`);
    }
    g.appendChild(g.texts);
  });
  // the lane names stay in view as the lanes scroll (render() moves this group)
  const names = el("g", { class: "names" }, svg);
  el("rect", { x: 0, y: 0, width: LABEL_W - 2, height, fill: "#fff" }, names);
  lanes.forEach((lane, i) => {
    const y = AXIS_H + i * (LANE_H + GAP) + LANE_H - 5;
    const label = el("text", { class: lane.header ? "lane-label" : "", x: 4, y }, names, lane.label);
    if (lane.timing) {
      label.setAttribute("data-timing", timingText(lane.timing));
      title(label, timingText(lane.timing));
      if (lane.timing.warnings && lane.timing.warnings.length) label.setAttribute("class", "warned");
    }
  });
  return svg;
}

function band(g, b, x, cls) {
  const w = Math.max(x(b.to) - x(b.from), cls.includes("state-terminated") ? 3 : 1);
  const r = el("rect", { class: cls, x: x(b.from), y: 1, width: w, height: LANE_H - 2, "data-seq": b.rec.seq, "data-label": b.label || "" }, g);
  title(r, `${fmtTime(b.from)} ${b.label || ""}${b.rec.message ? ": " + b.rec.message : ""}`);
  const labelCls = cls === "backoff" ? "band-label on-hatch" : "band-label";
  if (b.label && w > b.label.length * 6.2 + 6) el("text", { class: labelCls, x: x(b.from) + 3, y: LANE_H - 5 }, g.texts || g, b.label);
  return r;
}

function tick(g, t, x) {
  const cx = x(t.t);
  const line = el("line", { class: "tick tick-" + t.result, x1: cx, x2: cx, y1: 2, y2: LANE_H - 2, "data-seq": t.seq, "data-result": t.result }, g);
  if (t.fired) line.setAttribute("data-fired", `${t.run}/${t.threshold}`);
  title(line, `${fmtTime(t.t)} ${t.probe} ${t.result}${t.threshold ? ` (${t.run}/${t.threshold})` : ""} in ${(t.seconds * 1000).toFixed(1)} ms${t.output ? ": " + t.output : ""}`);
  if (t.fired && t.result !== "success") el("text", { class: "fire", x: cx + 3, y: 10 }, g.texts || g, `${t.run}/${t.threshold}`);
}

function axis(svg, t0, end, x, height) {
  const g = el("g", { class: "axis" }, svg);
  const span = end - t0;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
  const step = steps.find(s => (s * (x(t0 + 1) - x(t0))) >= 70) || 3600;
  for (let s = 0; s <= span + step; s += step) {
    const px = x(t0 + s);
    el("line", { x1: px, x2: px, y1: AXIS_H - 4, y2: height }, g);
    el("text", { x: px + 2, y: AXIS_H - 8 }, g, s < 60 ? `+${s}s` : `+${Math.floor(s / 60)}m${s % 60 ? (s % 60) + "s" : ""}`);
  }
}

// --- the page ----------------------------------------------------------------------------------

function render() {
  const main = document.getElementById("pods");
  const byPod = new Map();
  for (const r of state.records) {
    if (!byPod.has(r.pod)) byPod.set(r.pod, []);
    byPod.get(r.pod).push(r);
  }
  const now = Date.now() / 1000;
  const keep = new Set();
  for (const [pod, recs] of byPod) {
    keep.add(pod);
    let section = main.querySelector(`section[data-pod="${CSS.escape(pod)}"]`);
    if (!section) {
      section = document.createElement("section");
      section.className = "pod";
      section.dataset.pod = pod;
      const h = document.createElement("h2");
      const a = document.createElement("a");
      a.href = "?pod=" + encodeURIComponent(pod);
      a.textContent = pod;
      h.appendChild(a);
      const scroller = document.createElement("div");
      scroller.className = "scroller";
      scroller.addEventListener("scroll", () => pinNames(scroller));
      section.append(h, scroller);
      main.appendChild(section);
    }
    const scroller = section.querySelector(".scroller");
    const atEnd = scroller.scrollLeft + scroller.clientWidth >= scroller.scrollWidth - 5;
    const live = document.getElementById("follow").checked;
    const end = live ? Math.max(now, recs[recs.length - 1].t) : recs[recs.length - 1].t;
    scroller.replaceChildren(draw(pod, recs, end, scroller.clientWidth));
    const old = section.querySelector("table.timing");
    const table = timingTable(pod, recs);
    if (old) old.replaceWith(table); else section.appendChild(table);
    if (atEnd) scroller.scrollLeft = scroller.scrollWidth;
    pinNames(scroller);
  }
  for (const section of main.querySelectorAll("section.pod")) if (!keep.has(section.dataset.pod)) section.remove();
}

function pinNames(scroller) {
  const names = scroller.querySelector("g.names");
  if (names) names.setAttribute("transform", `translate(${scroller.scrollLeft},0)`);
}

// In token mode the page is opened as /ui#token=TOKEN: the fragment never leaves the browser,
// and the token goes with each request as the API asks for it.
function authHeaders() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  return token ? { Authorization: "Bearer " + token } : {};
}

async function poll() {
  const q = new URLSearchParams({ since: String(state.seq) });
  if (onePod) q.set("pod", onePod);
  try {
    const resp = await fetch("/debug/timeline?" + q, { cache: "no-store", headers: authHeaders() });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const body = await resp.json();
    if (body.seq < state.seq) state.records = [];  // a new daemon: start again
    state.records.push(...body.records);
    state.seq = body.seq;
    state.failures = 0;
    document.getElementById("status").textContent = `${state.records.length} records, updated ${fmtTime(Date.now() / 1000)}`;
  } catch (e) {
    state.failures += 1;
    document.getElementById("status").textContent = "daemon unreachable: " + e.message;
  }
  if (state.records.length) render();
  document.body.dataset.seq = String(state.seq);
  document.body.dataset.loaded = "true";
}

function zoom(factor) {
  const svg = document.querySelector("svg[data-px-per-sec]");
  const current = state.pxPerSec || (svg ? Number(svg.dataset.pxPerSec) : 10);
  state.pxPerSec = Math.max(0.05, current * factor);
  render();
}

document.getElementById("zoom-in").addEventListener("click", () => zoom(2));
document.getElementById("zoom-out").addEventListener("click", () => zoom(0.5));
document.getElementById("follow").addEventListener("change", render);

async function loop() {
  await poll();
  if (params.get("once") !== "1") setTimeout(loop, 1000);
}
loop();
