// The rules of benchbench/ranking.py and benchbench/decision.py, for the report's page: which
// models a set of limits excludes, their order, ties with the best (paired, Holm), the Pareto
// set, the overall ranking and the decision map, from the data the report embeds. Kept rule for
// rule with the Python (tests/test_report_page.py checks they agree); page.js draws the results.
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);

function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  if (Math.abs(v) >= 10 ** digits) return Math.round(v).toLocaleString("en-US");
  return Number(v).toPrecision(digits).replace(/(\.\d*?)0+(e|$)/, "$1$2").replace(/\.(e|$)/, "$1");
}
// a value the data has under `key` (a model or task named "toString" is data, not Object's)
const own = (object, key) => object && Object.hasOwn(object, key) ? object[key] : undefined;
const higher = metric => !Object.hasOwn(DATA.rules.higher, metric) || DATA.rules.higher[metric] !== false;

// --- ranking (ranking.py: apply_constraints, rank, overall) ---------------------------------
function exclusions(c, limits) {
  const why = c.excluded.slice();
  if (limits.max_cost_per_1k !== null) {
    if (c.cost_per_1k === null) why.push("cost unknown");
    else if (c.cost_per_1k > limits.max_cost_per_1k) why.push(`costs ${fmt(c.cost_per_1k)} per 1k examples > ${limits.max_cost_per_1k}`);
  }
  if (limits.budget_gib !== null && c.memory_source !== DATA.rules.remote_memory) {
    if (c.memory_gib === null) why.push("memory unknown");
    else if (c.memory_gib > limits.budget_gib) why.push(`needs ${fmt(c.memory_gib, 3)} GiB > ${limits.budget_gib} GiB (${c.memory_source})`);
  }
  if (limits.max_latency_ms !== null && c.latency_ms !== null && c.latency_ms > limits.max_latency_ms) {
    why.push(`latency ${fmt(c.latency_ms)} ms > ${limits.max_latency_ms} ms`);
  }
  for (const [metric, threshold] of Object.entries(limits.min_scores)) {
    const score = Object.hasOwn(c.scores, metric) ? c.scores[metric] : null;
    if (score === null) continue;
    if (higher(metric) ? score < threshold : score > threshold) why.push(`${metric} ${fmt(score)} ${higher(metric) ? "<" : ">"} ${threshold}`);
  }
  return why;
}

function holm(pValues) {
  const order = pValues.map((p, i) => i).sort((a, b) => pValues[a] - pValues[b]);
  const adjusted = new Array(pValues.length);
  let running = 0;
  order.forEach((index, position) => {
    running = Math.max(running, Math.min(1, (pValues.length - position) * pValues[index]));
    adjusted[index] = running;
  });
  return adjusted;
}

function dominates(a, b, up) {
  const pairs = [up ? [a.score, b.score] : [-a.score, -b.score]];
  for (const key of ["latency_ms", "memory_gib", "cost_per_1k"]) {
    if (a[key] !== null && b[key] !== null) pairs.push([-a[key], -b[key]]);
  }
  return pairs.every(([x, y]) => x >= y) && pairs.some(([x, y]) => x > y);
}

function rankTask(task, limits) {
  const rows = task.candidates.map(c => ({...c, why: exclusions(c, limits), rank: null, tied: false, vs: null, pareto: false}));
  const eligible = rows.filter(r => r.why.length === 0);
  if (!eligible.length) return rows;
  const up = task.higher;
  eligible.sort((a, b) => up ? b.score - a.score : a.score - b.score);
  const best = eligible[0], pairs = own(task.pairs, best.model);
  const paired = pairs ? eligible.slice(1).filter(r => own(pairs, r.model)) : [];
  const adjusted = holm(paired.map(r => pairs[r.model].p_value));
  paired.forEach((r, i) => { r.vs = {...pairs[r.model], p_holm: adjusted[i]}; });
  eligible.forEach((r, i) => {
    r.rank = i + 1;
    if (pairs && (r === best || r.vs)) { r.tied = r === best || r.vs.p_holm >= DATA.rules.alpha; r.rule = DATA.rules.tie_rule; }
    else { r.tied = i === 0 || overlap(best, r); r.rule = DATA.rules.overlap_rule; }
    r.pareto = !eligible.some(o => o !== r && dominates(o, r, up));
  });
  return eligible.concat(rows.filter(r => r.why.length));
}

function overlap(a, b) {
  if ([a.ci_low, a.ci_high, b.ci_low, b.ci_high].includes(null)) return a.score === b.score;
  return a.ci_low <= b.ci_high && b.ci_low <= a.ci_high;
}

function rankAll(limits) {
  const perTask = {};
  for (const task of DATA.tasks) perTask[task.name] = rankTask(task, limits);
  return perTask;
}

function overall(perTask) {
  const ranks = new Map();
  for (const rows of DATA.tasks.map(t => perTask[t.name])) {  // the tasks' order, as Python's (not JS key order)
    for (const r of rows) { if (r.rank !== null) { if (!ranks.has(r.model)) ranks.set(r.model, []); ranks.get(r.model).push(r.rank); } }
  }
  const out = [...ranks].map(([model, r]) => ({model, mean: r.reduce((a, b) => a + b, 0) / r.length, ranked: r.length}));
  out.sort((a, b) => (b.ranked - a.ranked) || (a.mean - b.mean));
  return out;
}

function picks(perTask) {
  const chosen = new Map();
  for (const task of DATA.tasks) chosen.set(task.name, (perTask[task.name].find(r => r.rank === 1) || {model: null}).model);
  if (DATA.tasks.length > 1) { const first = overall(perTask)[0]; chosen.set(null, first ? first.model : null); }
  return chosen;  // task name (null: the overall ranking) -> the pick, in the tasks' order
}

// --- the decision map (decision.py: the same sweep) -----------------------------------------
function withValue(limits, constraint, value) {
  const out = {...limits, min_scores: {...limits.min_scores}};
  if (constraint.metric) out.min_scores[constraint.metric] = value; else out[constraint.key] = value;
  return out;
}

function figure(constraint, c) {
  if (constraint.key === "budget_gib") return c.memory_source === DATA.rules.remote_memory ? null : c.memory_gib;
  if (constraint.key === "max_latency_ms") return c.latency_ms;
  if (constraint.key === "max_cost_per_1k") return c.cost_per_1k;
  return Object.hasOwn(c.scores, constraint.metric) ? c.scores[constraint.metric] : null;
}

function decisionMap(limits) {
  return DATA.constraints.map(constraint => {
    const down = constraint.stricter === "below", positive = !constraint.metric;
    const values = [...new Set(DATA.tasks.flatMap(t => t.candidates.filter(c => !c.excluded.length)
      .map(c => figure(constraint, c)).filter(v => v !== null)))].sort((a, b) => down ? b - a : a - b);
    const last = values[values.length - 1];  // then a value past the strictest figure (decision.py's _sweep)
    if (values.length && !positive) values.push(last + (down ? -1 : 1) * Math.max(Math.abs(last), 1) / 2);
    else if (values.length && last > 0) values.push(last / 2);
    const chosen = values.map(value => picks(rankAll(withValue(limits, constraint, value))));
    const flips = [];
    for (let i = 0; i + 1 < values.length; i++) {
      for (const [task, model] of chosen[i]) {
        if (chosen[i + 1].get(task) !== model) flips.push({task, at: values[i], pick: model, then: chosen[i + 1].get(task)});
      }
    }
    return {constraint: constraint.key, metric: constraint.metric, label: constraint.label, unit: constraint.unit,
            stricter: constraint.stricter, current: constraint.metric ? (limits.min_scores[constraint.metric] ?? null) : limits[constraint.key], flips};
  });
}
