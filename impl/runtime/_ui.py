"""The node's live view, ``/ui``: one self-contained web page that watches the cluster.

A learner who has a cluster running wants to *see* it: which node owns how much of the
ring, who is suspected and how strongly (phi), how many hints wait for which peer, whether
anti-entropy is repairing anything, and what one request does on its way through the
node. The page shows exactly that, and only from what the node already serves:
``/cluster/ring``, ``/cluster/members`` and ``?trace=1`` requests on ``/kv/{key}``. The two
facts no other route exposes, hints pending per owner and the Merkle exchange counters,
come from ``/ui?state=1``, a small JSON document built here.

Why one file with everything inline: the page must work offline and from any node (no
CDN, no static directory to install, nothing to build), and a browser test loads it
against a real cluster. The HTML, CSS and JavaScript are one string; the JavaScript draws
the ring and the request journey as SVG. It refreshes every two seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from ._http import HttpRequest, HttpResponse, json_response

if TYPE_CHECKING:
    from ._view import NodeView

__all__ = ["UI_PAGE", "ui_response", "ui_state"]

_TRUE = frozenset({"1", "true", "yes"})


def ui_state(process: NodeView) -> dict[str, Any]:
    """What the page needs beyond the other routes: hints per owner, Merkle counters.

    Returns:
        ``{"node", "hints_pending": {owner: count}, "merkle": {counter: value}}``.
    """
    node = process.node
    hints = Counter(hint.owner for hint in node.hints)
    merkle = dict(vars(node.anti_entropy.metrics))
    merkle["roots_compared"] = node.stats_member.roots_compared
    merkle["keys_repair_applied"] = node.stats_member.keys_repair_applied
    return {
        "node": process.name,
        "hints_pending": dict(sorted(hints.items())),
        "merkle": dict(sorted(merkle.items())),
    }


def ui_response(process: NodeView, request: HttpRequest) -> HttpResponse:
    """``GET /ui``: the page; ``GET /ui?state=1``: :func:`ui_state` as JSON."""
    if request.query.get("state", "").lower() in _TRUE:
        return json_response(ui_state(process))
    return HttpResponse(
        200,
        UI_PAGE.replace("__NODE__", _escape(process.name)).encode(),
        (
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            # Everything is inline: nothing may be loaded from anywhere else.
            (
                "content-security-policy",
                "default-src 'none'; connect-src 'self'; img-src 'self' data:; "
                "style-src 'unsafe-inline'; script-src 'unsafe-inline'",
            ),
        ),
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


UI_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>dynamokv · __NODE__</title>
<style>
  :root { --ink: #222; --muted: #666; --line: #ddd; --blue: #4C72B0; --red: #C44E52;
          --green: #55A868; --bg: #fafafa; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--ink); margin: 0; background: var(--bg); }
  header { background: #1f2937; color: #fff; padding: 10px 20px; display: flex; gap: 16px;
           align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #cbd5e1; font-size: 13px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px;
         padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 600; }
  td.num, th.num { text-align: right; }
  .bad { color: var(--red); font-weight: 600; }
  .good { color: var(--green); }
  .muted { color: var(--muted); }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
  form { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; margin-bottom: 10px; }
  input { padding: 4px 6px; font: inherit; }
  button { padding: 4px 12px; font: inherit; cursor: pointer; }
  ol.journey { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px; }
  ol.journey li { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; background: #f5f8fc; }
  ol.journey li b { display: block; font-size: 12px; color: var(--blue); text-transform: uppercase; }
  #error { color: var(--red); }
  code { font-size: 12px; }
</style>
</head>
<body>
<header><h1>dynamokv · <span id="node-name">__NODE__</span></h1>
  <span id="ring-version"></span><span id="updated"></span></header>
<main>
<section>
  <h2>The ring</h2>
  <svg id="ring-svg" width="220" height="220" viewBox="-110 -110 220 220" role="img"
       aria-label="each node's share of the ring's partitions"></svg>
  <table id="ring-table"><thead><tr><th>node</th><th class="num">partitions</th>
    <th class="num">share</th></tr></thead><tbody></tbody></table>
</section>
<section>
  <h2>Members (gossip view of this node)</h2>
  <table id="members-table"><thead><tr><th>node</th><th>status</th><th class="num">phi</th>
    <th>suspected</th><th>healthy</th><th>in ring</th></tr></thead><tbody></tbody></table>
</section>
<section>
  <h2>Hints pending here, per owner</h2>
  <table id="hints-table"><thead><tr><th>owner</th><th class="num">hints</th></tr></thead>
    <tbody></tbody></table>
  <p class="muted">A hint is a write this node keeps for an owner that did not answer; it is
    replayed when the owner is seen alive (Dynamo §4.6).</p>
</section>
<section>
  <h2>Merkle anti-entropy (this node)</h2>
  <table id="merkle-table"><thead><tr><th>counter</th><th class="num">value</th></tr></thead>
    <tbody></tbody></table>
</section>
<section class="wide">
  <h2>A request's journey</h2>
  <form id="journey-form">
    <label>key <input id="journey-key" value="cart:alice" size="18"></label>
    <label>value <input id="journey-value" value="milk" size="12"></label>
    <button type="button" id="journey-put">PUT</button>
    <button type="button" id="journey-get">GET</button>
    <span id="journey-status" class="muted"></span>
  </form>
  <ol class="journey" id="journey-steps"></ol>
  <svg id="journey-svg" width="100%" height="0" role="img"
       aria-label="the replies of the request on a time axis"></svg>
  <p id="error"></p>
</section>
</main>
<script>
"use strict";
const COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
                 "#8C8C8C", "#CCB974", "#64B5CD"];
const colourOf = {};
function colour(name) {
  if (!(name in colourOf)) colourOf[name] = COLOURS[Object.keys(colourOf).length % COLOURS.length];
  return colourOf[name];
}
function el(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function svgEl(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, v);
  return node;
}
function row(cells, attributes) {
  const tr = el("tr", attributes);
  for (const cell of cells) {
    const td = el("td", cell.cls ? {class: cell.cls} : {});
    if (cell.node) td.appendChild(cell.node); else td.textContent = cell.text;
    tr.appendChild(td);
  }
  return tr;
}
async function getJson(path) {
  const response = await fetch(path, {headers: {"Accept": "application/json"}});
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}
function drawRing(ring) {
  const svg = document.getElementById("ring-svg");
  svg.replaceChildren();
  const total = ring.partition_count;
  let start = 0;
  for (const [name, count] of Object.entries(ring.owners)) {
    const a0 = 2 * Math.PI * start / total, a1 = 2 * Math.PI * (start + count) / total;
    const large = a1 - a0 > Math.PI ? 1 : 0, r = 100, r2 = 62;
    const p = (a, radius) => [radius * Math.sin(a), -radius * Math.cos(a)];
    const [x0, y0] = p(a0, r), [x1, y1] = p(a1, r), [x2, y2] = p(a1, r2), [x3, y3] = p(a0, r2);
    svg.appendChild(svgEl("path", {d: `M${x0},${y0} A${r},${r} 0 ${large} 1 ${x1},${y1} ` +
      `L${x2},${y2} A${r2},${r2} 0 ${large} 0 ${x3},${y3} Z`, fill: colour(name),
      stroke: "#fff", "data-node": name}));
    start += count;
  }
  const label = svgEl("text", {"text-anchor": "middle", y: 5, "font-size": 13});
  label.textContent = `Q = ${total.toLocaleString("en")}`;
  svg.appendChild(label);
  const tbody = document.querySelector("#ring-table tbody");
  tbody.replaceChildren();
  for (const [name, count] of Object.entries(ring.owners)) {
    const swatch = el("span", {class: "swatch", style: `background:${colour(name)}`});
    const cell = el("span"); cell.appendChild(swatch); cell.appendChild(document.createTextNode(name));
    tbody.appendChild(row([{node: cell}, {text: String(count), cls: "num"},
      {text: (100 * count / total).toFixed(1) + " %", cls: "num"}],
      {"data-node": name, "data-partitions": String(count)}));
  }
  document.getElementById("ring-version").textContent =
    `ring version ${ring.version} · N = ${ring.n}`;
}
function drawMembers(members) {
  const tbody = document.querySelector("#members-table tbody");
  tbody.replaceChildren();
  for (const m of members.members) {
    tbody.appendChild(row([
      {text: m.name + (m.self ? " (this node)" : "")},
      {text: m.status},
      {text: m.phi.toFixed(2), cls: "num"},
      {text: m.suspected ? "yes" : "no", cls: m.suspected ? "bad" : ""},
      {text: m.healthy ? "yes" : "no", cls: m.healthy ? "good" : "bad"},
      {text: m.in_ring ? "yes" : "no"},
    ], {"data-node": m.name}));
  }
}
function drawState(state) {
  const hints = document.querySelector("#hints-table tbody");
  hints.replaceChildren();
  const owners = Object.entries(state.hints_pending);
  if (owners.length === 0) hints.appendChild(row([{text: "none"}, {text: "0", cls: "num"}]));
  for (const [owner, count] of owners)
    hints.appendChild(row([{text: owner}, {text: String(count), cls: "num"}], {"data-owner": owner}));
  const merkle = document.querySelector("#merkle-table tbody");
  merkle.replaceChildren();
  for (const [name, value] of Object.entries(state.merkle))
    merkle.appendChild(row([{text: name.replaceAll("_", " ")}, {text: value.toLocaleString("en"), cls: "num"}],
      {"data-counter": name}));
}
async function refresh() {
  try {
    const [ring, members, state] = await Promise.all([
      getJson("/cluster/ring"), getJson("/cluster/members"), getJson("/ui?state=1")]);
    drawRing(ring); drawMembers(members); drawState(state);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.getElementById("error").textContent = "";
  } catch (error) {
    document.getElementById("error").textContent = String(error);
  }
}
function describe(step) {
  switch (step.step) {
    case "md5": return `md5 ${step.md5.slice(0, 12)}… at ${(100 * step.ring_fraction).toFixed(3)} % of the ring`;
    case "partition": return `partition ${step.partition} of ${step.partition_count}, owner ${step.owner}`;
    case "preference_list": return step.nodes.join(" → ");
    case "coordinator": return step.forwarded ? `forwarded to ${step.node} (${step.http})` : `${step.node} coordinates`;
    case "wal": return `fsync ${step.fsync_ms} ms, durable after ${step.durable_after_ms} ms`;
    case "replicate": case "read":
      return (step.to || []).map(t => t.node + (t.hinted_for ? ` (hint for ${t.hinted_for})` : "")).join(", ") +
        ` · ${(step.acks || []).length} answered, needs ${step.w || step.r}`;
    case "ack": return `${step.ok ? "ok" : "failed"} in ${step.latency_ms} ms`;
    default: return JSON.stringify(step);
  }
}
function drawJourney(steps) {
  const list = document.getElementById("journey-steps");
  list.replaceChildren();
  for (const step of steps) {
    const item = el("li", {"data-step": step.step});
    item.appendChild(el("b", {}, step.step.replace("_", " ")));
    item.appendChild(el("span", {}, describe(step)));
    if (step.step === "preference_list") item.setAttribute("data-nodes", step.nodes.join(","));
    list.appendChild(item);
  }
  const svg = document.getElementById("journey-svg");
  svg.replaceChildren();
  const answers = steps.filter(s => s.step === "replicate" || s.step === "read")
    .flatMap(s => s.acks || []);
  const end = steps.find(s => s.step === "ack");
  if (!answers.length || !end) { svg.setAttribute("height", "0"); return; }
  const total = Math.max(end.latency_ms, ...answers.map(a => a.ms), 0.001);
  const width = svg.clientWidth || 600, left = 140, scale = (width - left - 90) / total;
  svg.setAttribute("height", String(28 * answers.length + 40));
  answers.forEach((answer, i) => {
    const y = 20 + 28 * i;
    const name = svgEl("text", {x: 0, y: y + 12, "font-size": 12});
    name.textContent = answer.node + (answer.local ? " (own write)" : "");
    svg.appendChild(name);
    svg.appendChild(svgEl("rect", {x: left, y, width: Math.max(2, answer.ms * scale), height: 16,
      fill: colour(answer.node)}));
    const ms = svgEl("text", {x: left + answer.ms * scale + 6, y: y + 12, "font-size": 11});
    ms.textContent = answer.ms.toFixed(2) + " ms";
    svg.appendChild(ms);
  });
  const y = 20 + 28 * answers.length;
  svg.appendChild(svgEl("line", {x1: left + total * scale, x2: left + total * scale, y1: 10, y2: y,
    stroke: "#222", "stroke-dasharray": "4 3"}));
  const reply = svgEl("text", {x: left, y: y + 14, "font-size": 11});
  reply.textContent = `reply to the client after ${end.latency_ms} ms (dashed line)`;
  svg.appendChild(reply);
}
async function send(method) {
  const key = document.getElementById("journey-key").value;
  const status = document.getElementById("journey-status");
  if (!key) { status.textContent = "type a key first"; return; }
  const init = {method, headers: {"Accept": "application/json"}};
  if (method === "PUT") init.body = document.getElementById("journey-value").value;
  status.textContent = method + " …";
  try {
    const response = await fetch("/kv/" + encodeURIComponent(key) + "?trace=1", init);
    const body = await response.json();
    status.textContent = `${method} ${key}: HTTP ${response.status}`;
    drawJourney(body.trace || []);
    refresh();
  } catch (error) {
    status.textContent = String(error);
  }
}
document.getElementById("journey-put").addEventListener("click", () => send("PUT"));
document.getElementById("journey-get").addEventListener("click", () => send("GET"));
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
"""The page; ``__NODE__`` is replaced by the node's name."""
