"""The explorer's one page (cli/explorer.py serves it): inline CSS and JS, nothing loaded from the network.
It fetches /api/overview and /api/model/<id> and draws the version tree and the accuracy plot as SVG.
Every on-chain string reaches the DOM as text (textContent), never as markup."""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>gradchain explorer</title>
<style>
  :root { --fg:#1d232a; --muted:#66707a; --line:#d8dde2; --bg:#f6f7f9; --card:#fff; --ok:#137333; --bad:#b3261e;
          --accent:#2f6fdb; --accent2:#e8710a; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { background:#14213d; color:#fff; padding:12px 24px; display:flex; gap:16px; align-items:baseline; flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  header .sub { color:#c9d3e6; }
  main { padding:16px 24px; max-width:1280px; }
  section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin:0 0 16px; }
  h2 { font-size:16px; margin:0 0 8px; display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
  h3 { font-size:14px; margin:14px 0 6px; display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
  table { border-collapse:collapse; width:100%; margin:4px 0 8px; }
  th, td { text-align:left; padding:3px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:600; font-size:12px; }
  td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
  .mono { font-family:ui-monospace, "SFMono-Regular", Menlo, monospace; font-size:12px; }
  .badge { display:inline-block; font-size:11px; font-weight:600; border-radius:10px; padding:1px 8px; cursor:help; }
  .badge.ok { background:#e6f4ea; color:var(--ok); border:1px solid #b7dfc3; }
  .badge.bad { background:#fce8e6; color:var(--bad); border:1px solid #f3b8b2; }
  .badge.plain { background:#eef1f4; color:var(--muted); border:1px solid var(--line); }
  .grid { display:grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap:4px 16px; }
  .kv { display:flex; justify-content:space-between; gap:8px; border-bottom:1px dotted var(--line); padding:2px 0; }
  .kv .k { color:var(--muted); }
  .row2 { display:grid; grid-template-columns: 1fr 1fr; gap:16px; }
  @media (max-width: 900px) { .row2 { grid-template-columns: 1fr; } }
  .outcome-accepted { color:var(--ok); font-weight:600; }
  .outcome-harmful, .status-invalid { color:var(--bad); font-weight:600; }
  .error { color:var(--bad); font-weight:600; }
  .muted { color:var(--muted); font-size:12px; }
  svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
  svg .axis { stroke:#9aa3ad; stroke-width:1; }
  svg .grid { stroke:#e6e9ec; stroke-width:1; }
  svg .edge { stroke:#9aa3ad; stroke-width:2; fill:none; }
  svg .node { fill:#fff; stroke:var(--accent); stroke-width:2; }
  svg .node.head { fill:var(--accent); }
  svg .node.head + text { fill:#fff; }
  svg .after { stroke:var(--accent); stroke-width:2.5; fill:none; }
  svg .before { stroke:var(--accent2); stroke-width:1.5; stroke-dasharray:4 3; fill:none; }
  button { font:inherit; padding:3px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
</style>
</head>
<body>
<header><h1>gradchain explorer</h1><span class="sub" id="chain-line">loading...</span>
  <button id="refresh" type="button">refresh</button></header>
<main>
  <section class="card" id="status"><h2>Chain status</h2><div class="body">loading...</div></section>
  <section class="card" id="validators"><h2>Validators</h2><div class="body">loading...</div></section>
  <section class="card" id="models"><h2>Models</h2><div class="body">loading...</div></section>
  <div id="model-details"></div>
</main>
<script>
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
function badge(v) {
  if (!v) return el("span", {class: "badge plain", title: "not checked"}, "unverified");
  return v.ok ? el("span", {class: "badge ok verified", title: v.detail}, "verified" + (v.height ? " @" + v.height : ""))
              : el("span", {class: "badge bad", title: v.detail}, "unverified");
}
function plain(text) { return el("span", {class: "badge plain", title: text}, "from the node, unproven"); }
function pct(x, digits) { return (x === null || x === undefined) ? "-" : (100 * x).toFixed(digits ?? 1) + "%"; }
function units(x, metric) {           // score units: accuracy in parts per million
  if (x === null || x === undefined) return "-";
  return metric === "accuracy" ? (Number(x) / 10000).toFixed(2) + "%" : String(x);
}
function pp(x, metric) {              // a score difference
  if (x === null || x === undefined) return "-";
  return metric === "accuracy" ? (Number(x) >= 0 ? "+" : "") + (Number(x) / 10000).toFixed(2) + " pp" : String(x);
}
function short(addr) { return addr && addr.length > 20 ? addr.slice(0, 10) + "…" + addr.slice(-6) : (addr ?? "-"); }
function addr(a) { return el("span", {class: "mono", title: a}, short(a)); }
function table(headers, rows, cls) {
  return el("table", {class: cls || null},
    el("thead", {}, el("tr", {}, headers.map(h => el("th", {class: h.num ? "num" : null}, h.label ?? h)))),
    el("tbody", {}, rows.map(r => el("tr", {}, r.map((c, i) =>
      el("td", {class: headers[i] && headers[i].num ? "num" : null}, c))))));
}
function kv(pairs) {
  return el("div", {class: "grid"}, pairs.map(([k, v]) => el("div", {class: "kv"}, el("span", {class: "k"}, k), el("span", {}, v))));
}
async function getJSON(path) {
  const r = await fetch(path, {cache: "no-store"});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}
function fill(id, ...nodes) {
  const body = document.querySelector("#" + id + " .body");
  body.replaceChildren(...nodes);
}

// --- overview ------------------------------------------------------------------------------------------
function renderStatus(s) {
  document.getElementById("chain-line").textContent = s.chain_id + " at height " + s.height;
  document.querySelector("#status h2").append(badge(s.verified));
  const h = s.header || {};
  fill("status", kv([
    ["chain id", s.chain_id], ["height", String(s.height)], ["latest block time", s.latest_block_time || "-"],
    ["catching up", String(s.catching_up)], ["node", (s.moniker || "") + " " + (s.node_version || "")],
    ["app hash", el("span", {class: "mono", title: h.app_hash || ""}, short(h.app_hash))],
    ["block hash", el("span", {class: "mono", title: h.hash || ""}, short(h.hash))],
    ["signatures", h.validators ? h.signatures + " of " + h.validators : "-"],
  ]), el("p", {class: s.verified.ok ? null : "error"}, s.verified.detail));
}
function renderValidators(v) {
  document.querySelector("#validators h2").append(badge(v.verified));
  fill("validators", table(["operator", "consensus key", "status", {label: "bond (ugrad)", num: 1},
      {label: "power", num: 1}, {label: "signing power", num: 1}],
    v.validators.map(x => [addr(x.operator), el("span", {class: "mono", title: x.consensus_pubkey}, short(x.consensus_pubkey)),
      x.status, x.bond, String(x.power), x.signing_power === null ? "-" : String(x.signing_power)])),
    el("p", {class: v.verified.ok ? null : "error"}, v.verified.detail));
}
function renderModels(m) {
  document.querySelector("#models h2").append(badge(m.verified));
  if (!m.models.length) { fill("models", el("p", {}, "no model registered yet")); return; }
  fill("models", table(["id", "owner", "status", "privacy", "metric", {label: "bounty left", num: 1}, {label: "paid", num: 1},
      {label: "head", num: 1}, {label: "versions", num: 1}, {label: "expiry height", num: 1}],
    m.models.map(x => [el("a", {href: "#model-" + x.id}, "model " + x.id), addr(x.owner), x.status, x.privacy, x.metric,
      x.bounty_left + " " + x.bounty_denom, x.paid + " " + x.bounty_denom, "v" + x.head_version, String(x.versions),
      String(x.expiry_height)])));
}

// --- one model -----------------------------------------------------------------------------------------
function versionTree(versions, head) {
  // a tidy tree: depth along x, one row per leaf; a parent sits on its first child's row
  const kids = new Map(), byV = new Map(versions.map(v => [v.version, v]));
  for (const v of versions) if (v.parent !== null && byV.has(v.parent)) {
    if (!kids.has(v.parent)) kids.set(v.parent, []);
    kids.get(v.parent).push(v.version);
  }
  const pos = new Map(); let row = 0;
  function place(v, depth) {
    const children = kids.get(v) || [];
    let y = null;
    for (const c of children) { const cy = place(c, depth + 1); if (y === null) y = cy; }
    if (y === null) y = row++;
    pos.set(v, {x: depth, y}); return y;
  }
  for (const v of versions) if (v.parent === null || !byV.has(v.parent)) place(v.version, 0);
  const dx = 120, dy = 56, W = 76 + dx * Math.max(1, ...[...pos.values()].map(p => p.x + 1)), H = 40 + dy * Math.max(1, row);
  const X = p => 56 + p.x * dx, Y = p => 28 + p.y * dy;
  const root = svg("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "version-tree", role: "img",
                           "aria-label": "version tree"});
  for (const v of versions) if (pos.has(v.parent)) {
    const a = pos.get(v.parent), b = pos.get(v.version);
    root.append(svg("path", {class: "edge", d: `M${X(a) + 18},${Y(a)} C${X(a) + 60},${Y(a)} ${X(b) - 60},${Y(b)} ${X(b) - 18},${Y(b)}`}));
  }
  for (const v of versions) {
    const p = pos.get(v.version);
    const g = svg("g", {class: "version", "data-version": v.version});
    g.append(svg("title", {}, `version ${v.version}` + (v.parent === null ? " (registered)" : ` from v${v.parent}, round ${v.round}, updates ${JSON.stringify(v.updates || [])}`)
                 + `\nweights ${v.weights_hash}\nheight ${v.height}`));
    g.append(svg("circle", {cx: X(p), cy: Y(p), r: 17, class: "node" + (v.version === head ? " head" : "")}));
    g.append(svg("text", {x: X(p), y: Y(p) + 4, "text-anchor": "middle"}, "v" + v.version));
    const own = v.scores.find(s => s.round === v.round) || v.scores[0];   // its score on the round that made it
    g.append(svg("text", {x: X(p), y: Y(p) + 32, "text-anchor": "middle"},
                 (v.parent === null ? "registered" : "round " + v.round) + (own ? " · " + pct(own.accuracy) : "")));
    root.append(g);
  }
  return root;
}
function accuracyPlot(series) {
  const W = 520, H = 240, L = 48, R = 16, T = 16, B = 36;
  const root = svg("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "accuracy-plot", role: "img",
                           "aria-label": "head accuracy per round"});
  const pts = series.filter(s => s.after !== null);
  const values = series.flatMap(s => [s.after, s.before]).filter(x => x !== null);
  if (!values.length) { root.append(svg("text", {x: L, y: H / 2}, "no closed round yet")); return root; }
  let lo = Math.max(0, Math.floor(Math.min(...values) * 10 - 0.5) / 10), hi = Math.min(1, Math.ceil(Math.max(...values) * 10 + 0.5) / 10);
  if (hi - lo < 0.1) { lo = Math.max(0, hi - 0.1); }
  const rounds = series.map(s => s.round), r0 = Math.min(...rounds), r1 = Math.max(...rounds);
  const x = r => L + (r1 === r0 ? (W - L - R) / 2 : (r - r0) / (r1 - r0) * (W - L - R));
  const y = a => T + (hi - a) / (hi - lo) * (H - T - B);
  const step = hi - lo > 0.5 ? 0.1 : hi - lo > 0.2 ? 0.05 : 0.02;
  for (let a = Math.ceil(lo / step - 1e-9) * step; a <= hi + 1e-9; a += step) {
    root.append(svg("line", {class: "grid", x1: L, x2: W - R, y1: y(a), y2: y(a)}));
    root.append(svg("text", {x: L - 6, y: y(a) + 4, "text-anchor": "end"}, pct(a, 0)));
  }
  root.append(svg("line", {class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}));
  root.append(svg("line", {class: "axis", x1: L, x2: L, y1: T, y2: H - B}));
  for (const r of rounds) root.append(svg("text", {x: x(r), y: H - B + 16, "text-anchor": "middle"}, "r" + r));
  root.append(svg("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle"}, "round (accuracy on that round's revealed shard)"));
  const before = series.filter(s => s.before !== null);
  if (before.length) root.append(svg("polyline", {class: "before", points: before.map(s => `${x(s.round)},${y(s.before)}`).join(" ")}));
  for (const s of before) root.append(svg("circle", {cx: x(s.round), cy: y(s.before), r: 3, fill: "#fff", stroke: "#e8710a", "stroke-width": 1.5}));
  root.append(svg("polyline", {class: "after", points: pts.map(s => `${x(s.round)},${y(s.after)}`).join(" ")}));
  for (const s of pts) {
    const c = svg("circle", {cx: x(s.round), cy: y(s.after), r: 4, fill: s.new_head ? "#2f6fdb" : "#fff", stroke: "#2f6fdb", "stroke-width": 2, class: "point"});
    c.append(svg("title", {}, `round ${s.round}: head v${s.head_version} ${pct(s.after, 2)}` + (s.before !== null ? ` (v${s.base_version} before: ${pct(s.before, 2)})` : "")));
    root.append(c);
  }
  return root;
}
function renderRound(rnd, m) {
  const metric = m.metric, denom = m.bounty_denom;
  const closed = rnd.closed_height !== undefined && rnd.closed_height !== null;
  const head = rnd.new_version !== null && rnd.new_version !== undefined ? "new head v" + rnd.new_version : (closed ? "no new head" : "open");
  const box = el("div", {class: "round", id: `model-${m.id}-round-${rnd.round}`});
  box.append(el("h3", {}, `Round ${rnd.round}`, el("span", {class: "badge plain"}, head),
    el("span", {}, `window ${rnd.window[0]}..${rnd.window[1] - 1}, base v${rnd.base_version}, ${rnd.submissions} submission(s)`
      + (closed ? `, closed at ${rnd.closed_height}` : "") + (rnd.void ? ", void" : "")
      + (rnd.paid !== undefined ? `, paid ${rnd.paid} ${denom}` + (rnd.payout_pending ? " (pending confirmation)" : "") : "")
      + (rnd.head_gain !== undefined ? `, head gain ${pp(rnd.head_gain, metric)}` : "")
      + (rnd.confirmed_round !== undefined ? `; confirmed round ${rnd.confirmed_round}'s head (${pp(rnd.confirmed_gain, metric)})` : ""))));
  if (rnd.aggregate_mode) {
    const bySeq = new Map((rnd.member_list || []).map(x => [x.seq, x]));
    box.append(el("div", {}, el("b", {}, "cohorts")), table(["cohort", "members", "status", "submitted", "mean's submission"],
      (rnd.cohort_list || []).map(k => [String(k.cohort), el("span", {}, k.members.map(s => bySeq.has(s) ? short(bySeq.get(s).member) : "#" + s).join(", ")),
        k.status, String((k.submitted || []).length) + " of " + k.members.length, k.submission === undefined ? "-" : "#" + k.submission])));
    box.append(el("div", {}, el("b", {}, "members")), table(["join", "member", "cohort", "status", "outcome", {label: "payout", num: 1}, "deposit"],
      (rnd.member_list || []).map(x => [String(x.seq), addr(x.member), x.cohort === undefined ? "-" : String(x.cohort), x.status,
        el("span", {class: "outcome-" + (x.outcome || "")}, x.outcome || "-"), (x.payout || "0") + " " + denom,
        x.deposit_returned === undefined ? "-" : (x.deposit_returned ? "returned" : "forfeited")])));
  }
  box.append(table(["seq", rnd.aggregate_mode ? "submitted by" : "trainer", "status", "outcome", {label: "shard accuracy", num: 1},
      {label: "gain", num: 1}, {label: "payout", num: 1}, "deposit"],
    rnd.submission_list.map(s => [String(s.seq), s.members ? el("span", {}, "cohort " + s.cohort + " mean") : addr(s.submitter),
      el("span", {class: "status-" + s.status}, s.status), el("span", {class: "outcome-" + (s.outcome || "")}, s.outcome || "-"),
      pct(s.accuracy, 1), pp(s.gain, metric), (s.payout || "0") + " " + denom + (s.payout_pending ? " (pending)" : ""),
      s.deposit_returned === undefined ? (s.status === "invalid" ? "forfeited" : "-") : (s.deposit_returned ? "returned" : "forfeited")]),
    "submissions"));
  return box;
}
function renderModel(d) {
  const section = el("section", {class: "card model", id: "model-" + d.id});
  if (d.error) { section.append(el("h2", {}, "Model " + d.id, badge(d.verified)), el("p", {class: "error"}, d.error)); return section; }
  const m = d.model, metric = m.metric;
  section.append(el("h2", {}, `Model ${m.id}`, el("span", {class: "badge plain"}, m.status), badge(d.verified)));
  section.append(el("p", {class: "muted"}, d.verified.detail));
  const curve = (m.reward_curve || []).map(([a, b]) => `${a / 100}%→${b / 100}%`).join(", ");
  section.append(el("h3", {}, "Terms and bounty"), kv([
    ["owner", addr(m.owner)], ["privacy", m.privacy + (m.cohort_size ? ` (cohorts of ${m.cohort_size})` : "")],
    ["metric", metric], ["bounty left", `${m.bounty_left} ${m.bounty_denom}`], ["paid out", `${m.paid} ${m.bounty_denom}`],
    ["deposit per update", `${m.deposit} ${m.deposit_denom}`], ["owner bond", `${m.bond} ${m.bond_denom}`],
    ["target score", units(m.target_score, metric)], ["initial score", units(m.initial_score, metric)],
    ["gained so far", pp(m.gained, metric)], ["min improvement", pp(m.min_improvement, metric)],
    ["max regression", pp(m.max_regression, metric)], ["reward curve (progress→payout)", curve || "-"],
    ["round length", m.round_blocks + " blocks"], ["reveal window", m.reveal_blocks + " blocks"],
    ["head version", "v" + m.head_version], ["current round", m.current_round === null ? "-" :
      `${m.current_round} (blocks ${m.current_window[0]}..${m.current_window[1] - 1})`],
    ["validation shards", `${m.revealed_count} of ${m.shard_count} revealed`], ["expiry height", String(m.expiry_height)],
  ]));
  if (m.pending) section.append(el("p", {}, `v${m.pending.version} (round ${m.pending.round}, ${pp(m.pending.gain, metric)}) is paid once a later round's shard confirms its gain`));
  const row = el("div", {class: "row2"});
  row.append(el("div", {}, el("h3", {}, "Version tree", badge(d.verified)), el("div", {class: "tree-box"}, versionTree(d.versions, m.head_version))));
  row.append(el("div", {}, el("h3", {}, "Head accuracy per round", badge(d.verified)), accuracyPlot(d.accuracy),
    el("div", {class: "muted"}, "solid: the head after each round (filled: a new head); dashed: the head the round started from; "
       + "both scored by every validator on that round's revealed shard")));
  section.append(row);
  section.append(el("h3", {}, "Leaderboard and earnings", badge(d.verified)),
    table(["#", "trainer", {label: "earned", num: 1}, {label: "submissions", num: 1}, {label: "accepted", num: 1},
           {label: "harmful", num: 1}, {label: "invalid", num: 1}, {label: "forfeited", num: 1}],
      d.leaderboard.map((t, i) => [String(i + 1), addr(t.trainer), `${t.earned} ${m.bounty_denom}`, String(t.submissions),
        String(t.accepted), String(t.harmful), String(t.invalid), `${t.forfeited} ${m.deposit_denom}`]), "leaderboard"));
  section.append(el("h3", {}, "Rounds", badge(d.verified)));
  if (!d.rounds.length) section.append(el("p", {}, "no submission yet"));
  for (const rnd of [...d.rounds].reverse()) section.append(renderRound(rnd, m));
  return section;
}

async function load() {
  document.body.dataset.ready = "0";
  for (const id of ["status", "validators", "models"]) {
    document.querySelectorAll(`#${id} h2 .badge`).forEach(b => b.remove());
  }
  const details = document.getElementById("model-details");
  try {
    const o = await getJSON("/api/overview");
    renderStatus(o.status); renderValidators(o.validators); renderModels(o.models);
    const sections = [];
    for (const m of o.models.models) {
      try { sections.push(renderModel(await getJSON("/api/model/" + m.id))); }
      catch (e) { sections.push(el("section", {class: "card"}, el("h2", {}, "Model " + m.id), el("p", {class: "error"}, String(e.message)))); }
    }
    details.replaceChildren(...sections);
  } catch (e) {
    fill("status", el("p", {class: "error"}, "cannot read the node: " + e.message));
  }
  document.body.dataset.ready = "1";
}
document.getElementById("refresh").addEventListener("click", load);
load();
</script>
</body>
</html>
"""
