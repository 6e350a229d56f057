// The report's page: the inputs, and what it draws from rank.js's ranking under them: the
// recommendation, the overview, the decision map, the charts and the side-by-side examples.
// Every piece of text goes into the page as text (textContent), never as HTML.
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") { for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn); }
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
// --- the inputs -------------------------------------------------------------------------------
function constraintId(c) { return c.metric ? `min-${c.metric}` : c.key; }

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;  // "1,5" or "15 GB" is not a number here

function parseLimit(text, c) {
  // {value} (null: empty, no limit) or {error}: what is wrong, shown beside the input
  const trimmed = text.trim();
  if (trimmed === "") return {value: null};
  if (!NUMBER.test(trimmed)) return {error: `"${trimmed}" is not a number (write 1.5, not 1,5)`};
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return {error: "give a finite number"};
  if (!c.metric && value <= 0) return {error: "a number above 0 (leave it empty for no limit)"};
  return {value};
}

function readLimits() {
  // the command line's limits, each input overriding its own (a limit without an input stays as given);
  // an invalid input is marked, says why, and leaves its limit as the command line gave it
  const limits = {...DATA.limits, min_scores: {...DATA.limits.min_scores}};
  for (const c of DATA.constraints) {
    const input = document.getElementById(constraintId(c)), note = document.getElementById(`${constraintId(c)}-error`);
    const parsed = parseLimit(input.value, c);
    input.setCustomValidity(parsed.error || "");
    input.setAttribute("aria-invalid", parsed.error ? "true" : "false");
    input.classList.toggle("invalid", Boolean(parsed.error));
    note.textContent = parsed.error || "";
    if (parsed.error) continue;
    if (c.metric) { if (parsed.value !== null) limits.min_scores[c.metric] = parsed.value; else delete limits.min_scores[c.metric]; }
    else limits[c.key] = parsed.value;
  }
  return limits;
}

function buildInputs() {
  const box = document.getElementById("inputs");
  for (const c of DATA.constraints) {
    const start = c.metric ? DATA.limits.min_scores[c.metric] : DATA.limits[c.key];
    const label = c.metric ? c.label : `${c.label} (${c.unit})`;
    box.append(el("label", {}, label, el("input", {id: constraintId(c), type: "text", inputmode: "decimal",
      value: start === null || start === undefined ? "" : start, placeholder: "no limit", on: {input: redraw}}),
      el("span", {class: "error", id: `${constraintId(c)}-error`, role: "alert"})));
  }
  box.append(el("button", {type: "button", id: "reset", on: {click: () => {
    for (const c of DATA.constraints) {
      const start = c.metric ? DATA.limits.min_scores[c.metric] : DATA.limits[c.key];
      document.getElementById(constraintId(c)).value = start === null || start === undefined ? "" : start;
    }
    redraw();
  }}}, "back to the command line's values"));
}

// --- the overview ------------------------------------------------------------------------------
function colour(task, score) {
  const scores = task.candidates.map(c => c.score).filter(s => s !== null && !Number.isNaN(s));
  const low = Math.min(...scores), high = Math.max(...scores);
  let t = high > low ? (score - low) / (high - low) : 1;
  if (!task.higher) t = 1 - t;
  return `hsl(210, 70%, ${Math.round(96 - 38 * t)}%)`;
}

function modelFigure(model, key) {
  // a model's figure over its tasks: memory is one per model; latency and cost differ per task,
  // so they show as a range, with each task's value on hover
  const values = DATA.tasks.map(task => [task.name, task.candidates.find(x => x.model === model)])
    .filter(([, c]) => c && c[key] !== null).map(([name, c]) => [name, c[key], c]);
  const remote = key === "memory_gib" && DATA.tasks.some(t => t.candidates.some(x => x.model === model && x.memory_source === DATA.rules.remote_memory));
  if (remote) return el("td", {class: "num", title: DATA.rules.remote_memory}, "remote");
  if (!values.length) return el("td", {class: "num", title: "unknown"}, "-");
  const digits = key === "memory_gib" ? 3 : 4, numbers = values.map(v => v[1]);
  const low = Math.min(...numbers), high = Math.max(...numbers), first = values[0][2];
  if (key === "memory_gib") {
    return el("td", {class: "num", title: first.memory_source}, fmt(low, digits) + (first.memory_source === "estimated" ? " (est.)" : ""));
  }
  const title = values.map(([name, value]) => `${name}: ${fmt(value, digits)}`).join("\n");
  return el("td", {class: "num", title}, low === high ? fmt(low, digits) : `${fmt(low, digits)}-${fmt(high, digits)}`);
}

function drawRecommendation(perTask, chosen) {
  const box = document.getElementById("recommendation");
  box.replaceChildren();
  const list = el("ul", {});
  if (chosen.has(null)) list.append(el("li", {class: "pick"}, el("b", {}, "Across tasks: "), chosen.get(null) || "no model fits every constraint", chosen.get(null) ? " (best mean rank over the tasks it is ranked on)" : ""));
  for (const task of DATA.tasks) {
    const rows = perTask[task.name], best = rows.find(r => r.rank === 1);
    if (!best) { list.append(el("li", {}, el("b", {}, task.name + ": "), "no model fits the constraints")); continue; }
    const tied = rows.filter(r => r.rank > 1 && r.tied).map(r => r.model);
    list.append(el("li", {}, el("b", {}, task.name + ": "), best.model, ` (${task.metric} ${fmt(best.score)}, n=${best.n ?? "?"}` +
      (best.baseline === null ? "" : `; the most common label alone scores ${fmt(best.baseline)}`) + ")",
      tied.length ? ` - statistically tied: ${tied.join(", ")}` : "", best.flags.length ? ` - ! ${best.flags.join("; ")}` : ""));
  }
  box.append(list);
}

function drawMatrix(perTask) {
  const head = el("tr", {}, el("th", {}, "model"), DATA.tasks.map(t => el("th", {}, t.name, el("div", {class: "muted"}, `${t.metric} ${t.higher ? "↑" : "↓"}`))),
    el("th", {}, "memory GiB"), el("th", {title: DATA.tasks.map(t => `${t.name}: ${t.latency_unit || "-"}`).join("\n")},
      "latency (tasks' range, each in its task's unit)"), el("th", {}, "cost / 1k examples"));
  const body = DATA.models.map(model => {
    const cells = DATA.tasks.map(task => {
      const r = perTask[task.name].find(x => x.model === model);
      if (!r) return el("td", {class: "none"}, "");
      if (r.score === null || Number.isNaN(r.score) || r.excluded.length) return el("td", {class: "none", title: r.why.join("; ")}, r.excluded.length ? "n/a" : "-");
      const interval = r.ci_low === null ? "" : ` [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]`;
      const versus = r.vs ? `\n${fmt(r.vs.difference, 3)} [${fmt(r.vs.low, 3)}, ${fmt(r.vs.high, 3)}] vs best, Holm p=${fmt(r.vs.p_holm, 2)} (${r.vs.test}, n=${r.vs.n})` : "";
      const baseline = r.baseline === null ? "" : `\nmost common label alone: ${fmt(r.baseline)}`;
      const flags = r.flags.length ? `\n! ${r.flags.join("; ")}` : "";
      const contradicts = r.vs && r.tied && (r.vs.low > 0 || r.vs.high < 0);
      const tied = contradicts ? `\ntied with the best: ${fill(DATA.rules.tied_despite_interval, {test: r.vs.test, n: r.vs.n,
        p: fmt(r.vs.p_holm, 2), alpha: fmt(DATA.rules.alpha, 2)})}` : "\ntied with the best";
      const title = `${model} on ${task.name}: ${task.metric} ${fmt(r.score)}${interval}, n=${r.n ?? "?"}${versus}${baseline}${flags}` +
        (r.why.length ? `\nexcluded: ${r.why.join("; ")}` : r.rank === 1 ? "\nthe pick" : r.tied ? tied : "");
      const marks = r.rank === 1 ? "★" : r.tied ? "=" : "";
      return el("td", {class: `num${r.why.length ? " out" : ""}${r.rank === 1 ? " top" : ""}`, style: r.why.length ? null : `background:${colour(task, r.score)}`,
        title, "data-model": model, "data-task": task.name}, fmt(r.score), marks ? el("span", {class: "mark"}, marks) : null);
    });
    return el("tr", {}, el("th", {scope: "row"}, model), cells,
      modelFigure(model, "memory_gib"), modelFigure(model, "latency_ms"), modelFigure(model, "cost_per_1k"));
  });
  document.getElementById("matrix").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
}

function drawDecisionMap(limits, now) {
  const box = document.getElementById("decision");
  const entries = decisionMap(limits);
  window.benchbench.lastMap = entries;
  box.replaceChildren();
  for (const entry of entries) {
    const current = entry.current === null ? "no limit" : `${fmt(entry.current)}${entry.unit ? " " + entry.unit : ""}`;
    const rows = [...now.keys()].filter(task => entry.flips.some(f => f.task === task)).map(task => {
      const flips = entry.flips.filter(f => f.task === task);
      const steps = flips.map(f => el("li", {class: f === nextFlip(entry, flips) ? "near" : null},
        `${entry.stricter === "below" ? "under" : "above"} ${fmt(f.at)}${entry.unit ? " " + entry.unit : ""}: `,
        f.then ? el("b", {}, f.then) : "no model fits"));
      return el("tr", {}, el("th", {scope: "row"}, task || "overall"), el("td", {}, now.get(task) || "no model fits"),
        el("td", {}, flips[0].pick || "no model fits"), el("td", {}, el("ul", {class: "steps"}, steps)));
    });
    box.append(el("h3", {}, entry.label, el("span", {class: "muted"}, ` (now ${current})`)), rows.length
      ? el("div", {class: "scroll"}, el("table", {}, el("thead", {}, el("tr", {}, ["", "pick now", "with the loosest limit", `as the limit tightens (${entry.stricter === "below" ? "lower" : "higher"})`].map(h => el("th", {}, h)))), el("tbody", {}, rows)))
      : el("p", {class: "muted"}, "No value of this limit alone changes a pick."));
  }
}

function nextFlip(entry, flips) {
  // the first change past the current value: the one that bites if the limit tightens
  if (entry.current === null) return flips[0];
  return flips.find(f => entry.stricter === "below" ? f.at <= entry.current : f.at >= entry.current);
}

// --- charts: quality against latency and memory, per task --------------------------------------
function chart(task, rows, key, label, limit) {
  const W = 300, H = 210, L = 46, R = 10, T = 10, B = 34;
  const points = rows.filter(r => r[key] !== null && r.score !== null && !Number.isNaN(r.score) && !r.excluded.length);
  if (!points.length) return null;
  const xs = points.map(r => r[key]).concat(limit === null ? [] : [limit]);
  const ys = points.flatMap(r => [r.score, r.ci_low ?? r.score, r.ci_high ?? r.score]);
  const pad = (lo, hi) => hi > lo ? [lo - (hi - lo) * 0.08, hi + (hi - lo) * 0.08] : [lo - 1, hi + 1];
  const xLow = Math.min(0, ...xs), xHigh = Math.max(...xs), yLow = Math.min(...ys), yHigh = Math.max(...ys);
  const [x0, x1] = pad(xLow, xHigh), [y0, y1] = pad(yLow, yHigh);
  const X = v => L + (v - x0) / (x1 - x0) * (W - L - R), Y = v => H - B - (v - y0) / (y1 - y0) * (H - T - B);
  const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `${task.name}: ${task.metric} against ${label}`});
  svg.append(el("svg:rect", {x: L, y: T, width: W - L - R, height: H - T - B, class: "frame"}));
  for (const v of [xLow, (xLow + xHigh) / 2, xHigh]) svg.append(el("svg:text", {x: X(v), y: H - B + 12, class: "tick", "text-anchor": "middle"}, fmt(v, 3)));
  for (const v of [yLow, (yLow + yHigh) / 2, yHigh]) svg.append(el("svg:text", {x: L - 3, y: Y(v) + 3, class: "tick", "text-anchor": "end"}, fmt(v, 3)));
  svg.append(el("svg:text", {x: (L + W - R) / 2, y: H - 4, class: "axis", "text-anchor": "middle"}, label));
  svg.append(el("svg:text", {x: 10, y: (T + H - B) / 2, class: "axis", "text-anchor": "middle", transform: `rotate(-90 10 ${(T + H - B) / 2})`}, `${task.metric} ${task.higher ? "↑" : "↓"}`));
  if (limit !== null) svg.append(el("svg:line", {x1: X(limit), x2: X(limit), y1: T, y2: H - B, class: "limit"}, el("svg:title", {}, `limit ${limit}`)));
  const front = points.filter(r => r.pareto && !r.why.length).sort((a, b) => a[key] - b[key]);
  if (front.length > 1) svg.append(el("svg:polyline", {points: front.map(r => `${X(r[key])},${Y(r.score)}`).join(" "), class: "front"}));
  for (const r of points) {
    const cls = r.why.length ? "out" : r.rank === 1 ? "top" : r.pareto ? "pareto" : "in";
    const g = el("svg:g", {class: cls}, el("svg:title", {}, `${r.model}: ${task.metric} ${fmt(r.score)}${r.ci_low === null ? "" : ` [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]`}, ${label} ${fmt(r[key])}${r.why.length ? "; excluded: " + r.why.join("; ") : ""}`));
    if (r.ci_low !== null) g.append(el("svg:line", {x1: X(r[key]), x2: X(r[key]), y1: Y(r.ci_low), y2: Y(r.ci_high), class: "bar"}));
    g.append(el("svg:circle", {cx: X(r[key]), cy: Y(r.score), r: 4}));
    const right = X(r[key]) > (L + W - R) / 2;  // names of points in the right half go to their left, inside the frame
    g.append(el("svg:text", {x: X(r[key]) + (right ? -6 : 6), y: Y(r.score) - 4, class: "name", "text-anchor": right ? "end" : "start"},
      r.model.length > 22 ? r.model.slice(0, 21) + "…" : r.model));
    svg.append(g);
  }
  return el("figure", {}, el("figcaption", {}, task.name), svg);
}

function drawCharts(perTask, limits) {
  const box = document.getElementById("charts");
  box.replaceChildren();
  for (const [key, label, limit] of [["latency_ms", "latency", limits.max_latency_ms], ["memory_gib", "memory (GiB)", limits.budget_gib]]) {
    const figures = DATA.tasks.map(task => chart(task, perTask[task.name], key, key === "latency_ms" ? `latency (${task.latency_unit || "ms"})` : label, limit)).filter(Boolean);
    box.append(el("h3", {}, `Quality against ${label}`), figures.length ? el("div", {class: "charts"}, figures) : el("p", {class: "muted"}, `No ${label} figures.`));
  }
}

// --- side by side ------------------------------------------------------------------------------
function buildComparison() {
  const withExamples = DATA.tasks.filter(t => own(DATA.examples, t.name) && Object.keys(DATA.examples[t.name].rows).length);
  const task = el("select", {id: "cmp-task", on: {change: () => { fillModels(); drawComparison(); }}}, withExamples.map(t => el("option", {value: t.name}, t.name)));
  const first = withExamples.find(t => t.type !== "perplexity");  // outputs to read, rather than log-likelihoods
  if (first) task.value = first.name;
  const a = el("select", {id: "cmp-a", on: {change: drawComparison}}), b = el("select", {id: "cmp-b", on: {change: drawComparison}});
  const differ = el("input", {type: "checkbox", id: "cmp-differ", on: {change: drawComparison}});
  const sort = el("select", {id: "cmp-sort", on: {change: drawComparison}}, el("option", {value: "index"}, "example order"),
    el("option", {value: "diff"}, "score difference (B - A), largest first"), el("option", {value: "absdiff"}, "size of the difference"));
  document.getElementById("compare-controls").append(el("label", {}, "task ", task), el("label", {}, "model A ", a), el("label", {}, "model B ", b),
    el("label", {}, differ, " only where their outputs differ"), el("label", {}, "sort by ", sort));
  fillModels();
  drawComparison();
}

function fillModels() {
  const name = document.getElementById("cmp-task").value, models = Object.keys((own(DATA.examples, name) || {rows: {}}).rows);
  for (const [id, pick] of [["cmp-a", 0], ["cmp-b", 1]]) {
    const select = document.getElementById(id);
    select.replaceChildren(...models.map(m => el("option", {value: m}, m)));
    select.value = models[Math.min(pick, models.length - 1)] || "";
  }
}

function drawComparison() {
  const name = document.getElementById("cmp-task").value, box = document.getElementById("compare");
  box.replaceChildren();
  const data = own(DATA.examples, name);
  if (!data) { box.append(el("p", {class: "muted"}, "No stored examples to compare.")); return; }
  const a = document.getElementById("cmp-a").value, b = document.getElementById("cmp-b").value;
  const byIndex = rows => new Map((rows || []).map(r => [r[0], r]));
  const rowsA = byIndex(data.rows[a]), rowsB = byIndex(data.rows[b]);
  let indices = [...new Set([...rowsA.keys(), ...rowsB.keys()])].sort((x, y) => x - y);
  const diff = i => (rowsB.get(i)?.[3] ?? NaN) - (rowsA.get(i)?.[3] ?? NaN);
  if (document.getElementById("cmp-differ").checked) indices = indices.filter(i => rowsA.get(i)?.[2] !== rowsB.get(i)?.[2]);
  const order = document.getElementById("cmp-sort").value;
  const key = order === "diff" ? i => -diff(i) : order === "absdiff" ? i => -Math.abs(diff(i)) : null;
  if (key) indices.sort((x, y) => (key(x) || 0) - (key(y) || 0) || x - y);
  box.append(el("p", {class: "muted", id: "cmp-count"}, `${indices.length} example(s) shown; ${data.embedded} of the task's ${data.total} examples are in this page` +
    (data.embedded < data.total ? ` (the report embeds about ${Math.round(data.limit_characters / 1e3)} thousand characters of examples per task; every example is in the store)` : "")));
  // what every input of the task starts with (a chat template's system message, the prompt's
  // instructions) is left out of the collapsed view, so it shows what differs: the example itself
  const shared = sharedStart(data.inputs);
  const input = text => {
    const full = text ?? "", own = shared > 20 ? "…" + full.slice(shared) : full;
    return full.length > 160 ? el("details", {}, el("summary", {}, own.slice(0, 120) + (own.length > 120 ? "…" : "")), el("pre", {}, full))
      : el("pre", {}, full);
  };
  const shown = indices.slice(0, 1000);
  const body = shown.map(i => {
    const ra = rowsA.get(i), rb = rowsB.get(i), d = diff(i);
    return el("tr", {"data-index": i}, el("td", {class: "num"}, i), el("td", {}, input(data.inputs[(ra || rb)[1]])),
      el("td", {}, el("pre", {}, own(data.references, String(i)) ?? "")), el("td", {}, el("pre", {}, ra ? ra[2] : "(not scored)")),
      el("td", {class: "num"}, ra ? fmt(ra[3], 3) : "-"), el("td", {}, el("pre", {}, rb ? rb[2] : "(not scored)")),
      el("td", {class: "num"}, rb ? fmt(rb[3], 3) : "-"), el("td", {class: "num diff"}, Number.isNaN(d) ? "-" : fmt(d, 3)));
  });
  box.append(el("div", {class: "scroll"}, el("table", {class: "examples"}, el("thead", {}, el("tr", {}, ["#", "input", "reference", `A: ${a}`, `A ${data.score}`, `B: ${b}`, `B ${data.score}`, "B - A"].map(h => el("th", {}, h)))), el("tbody", {}, body))));
  if (shown.length < indices.length) box.append(el("p", {class: "muted"}, `The first 1000 of ${indices.length} are listed; filter or sort to see others.`));
}

function sharedStart(texts) {
  // the length of the start all of `texts` share, cut back to a word boundary
  if (texts.length < 2) return 0;
  let n = 0;
  while (texts.every(t => n < t.length && t[n] === texts[0][n])) n++;
  while (n > 0 && !/\s/.test(texts[0][n - 1])) n--;
  return n;
}

// --- the static tables: sort by a column --------------------------------------------------------
function sortTable(th) {
  const table = th.closest("table"), index = [...th.parentNode.children].indexOf(th), body = table.tBodies[0];
  const dir = th.dataset.dir === "asc" ? "desc" : "asc"; th.dataset.dir = dir;
  const value = row => { const c = row.cells[index]; return c.dataset.value !== undefined ? c.dataset.value : c.textContent.trim(); };
  const rows = [...body.rows].sort((a, b) => {
    const x = value(a), y = value(b), nx = parseFloat(x), ny = parseFloat(y);
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : !Number.isNaN(nx) ? -1 : !Number.isNaN(ny) ? 1 : x.localeCompare(y);
    return dir === "asc" ? c : -c;
  });
  body.append(...rows);
}

function redraw() {
  const limits = readLimits(), perTask = rankAll(limits), chosen = picks(perTask);
  // for the browser tests: the picks keyed by task ("" for the overall ranking)
  Object.assign(window.benchbench, {limits, perTask, chosen: Object.fromEntries([...chosen].map(([k, v]) => [k ?? "", v]))});
  drawRecommendation(perTask, chosen);
  drawMatrix(perTask);
  drawDecisionMap(limits, chosen);
  drawCharts(perTask, limits);
}

window.benchbench = {data: DATA, rankAll, picks, decisionMap};
document.querySelectorAll("th[data-sort]").forEach(th => th.addEventListener("click", () => sortTable(th)));
buildInputs();
redraw();
buildComparison();
