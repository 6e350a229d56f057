// The arithmetic of benchbench/selection (ranking.py, constraints.py, decision.py) for the report's
// page. The rules themselves come from Python in the page's data: the table of constraints with
// the fields they read and the words of each exclusion (DATA.rules.constraints), the direction of
// every metric, the tie rule's level and the speed tolerance. This file applies them: exclusions,
// order and tie-break, paired ties (Holm), the Pareto set, the overall ranking and the decision
// map (tests/test_report_page.py checks they agree with Python).
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);

// Python's format(x, f".{p}g"), so a number reads the same here as in the terminal. The digits come
// from a long exact expansion of the binary value, rounded once: an exact half (as binary values like
// 0.0625 are) goes to even, as Python's correctly rounded formatting does; 0.0615 (just below a half
// in binary) goes down.
function pyG(x, p = 6) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mantissa, power] = Math.abs(x).toExponential(60).split("e");
  const all = mantissa.replace(".", "");
  let exponent = Number(power);
  let kept = BigInt(all.slice(0, p));
  const next = all[p], after = all.slice(p + 1);
  if (next > "5" || (next === "5" && /[1-9]/.test(after)) || (next === "5" && kept % 2n === 1n)) kept += 1n;
  let digits = kept.toString();
  if (digits.length > p) { digits = digits.slice(0, p); exponent += 1; }
  const sign = x < 0 ? "-" : "";
  if (exponent < -4 || exponent >= p) {
    const body = (digits[0] + "." + digits.slice(1)).replace(/0+$/, "").replace(/\.$/, "");
    return `${sign}${body}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const fixed = exponent >= 0 ? digits.slice(0, exponent + 1).padEnd(exponent + 1, "0") + "." + digits.slice(exponent + 1)
                              : "0." + "0".repeat(-exponent - 1) + digits;
  return sign + (fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed);
}

function fmt(v, digits = 4) { return pyG(v, digits); }
// a value the data has under `key` (a model or task named "toString" is data, not Object's)
const own = (object, key) => object && Object.hasOwn(object, key) ? object[key] : undefined;
const higher = metric => !Object.hasOwn(DATA.rules.higher, metric) || DATA.rules.higher[metric] !== false;
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

// --- ranking (constraints.exclusions, ranking.rank, ranking.overall) -------------------------
function exclusions(c, limits) {
  const why = c.excluded.slice();
  for (const rule of DATA.rules.constraints) {
    const limit = limits[rule.key];
    if (limit === null || limit === undefined || (rule.exempt_field && c[rule.exempt_field] === rule.exempt)) continue;
    const figure = c[rule.field];
    if (figure === null) { if (rule.unknown) why.push(rule.unknown); continue; }
    if (figure > limit) {
      why.push(fill(rule.over, {figure: pyG(figure, 4), limit: pyG(limit), source: c[DATA.rules.source_fields[rule.field]] ?? "",
                                unit: c[DATA.rules.unit_fields[rule.field]] ?? ""}));
    }
  }
  for (const [metric, threshold] of Object.entries(limits.min_scores)) {
    const score = Object.hasOwn(c.scores, metric) ? c.scores[metric] : null;
    if (score === null) continue;
    if (higher(metric) ? score < threshold : score > threshold) {
      why.push(fill(DATA.rules.score_over, {metric, figure: pyG(score, 4), op: higher(metric) ? "<" : ">", limit: pyG(threshold)}));
    }
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

const known = v => v === null || v === undefined ? Infinity : v;
function orderKey(c, up) {
  const memory = c.memory_source === DATA.rules.remote_memory ? 0 : known(c.memory_gib);
  return [up ? -c.score : c.score, known(c.latency_ms), memory, known(c.cost_per_1k), c.model];
}
function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) { if (a[i] < b[i]) return -1; if (a[i] > b[i]) return 1; }
  return 0;
}

function speedOrder(a, b) {
  // -1: a faster than b beyond the noise (intervals apart and SPEED_TOLERANCE lower); +1: slower
  if (a.latency_ms === null || b.latency_ms === null) return 0;
  for (const [sign, fast, slow] of [[-1, a, b], [1, b, a]]) {
    const apart = fast.latency_high === null || slow.latency_low === null || fast.latency_high < slow.latency_low;
    if (apart && fast.latency_ms <= slow.latency_ms * (1 - DATA.rules.speed_tolerance)) return sign;
  }
  return 0;
}

function dominates(a, b, up) {
  const quality = up ? (a.score > b.score) - (a.score < b.score) : (a.score < b.score) - (a.score > b.score);
  const orders = [quality, -speedOrder(a, b)];
  for (const key of ["memory_gib", "cost_per_1k"]) {
    if (a[key] !== null && b[key] !== null) orders.push((a[key] < b[key]) - (a[key] > b[key]));
  }
  return orders.every(o => o >= 0) && orders.some(o => o > 0);
}

function rankTask(task, limits) {
  const rows = task.candidates.map(c => ({...c, why: exclusions(c, limits), rank: null, tied: false, vs: null, pareto: false}));
  const eligible = rows.filter(r => r.why.length === 0);
  if (!eligible.length) return rows;
  const up = task.higher;
  eligible.sort((a, b) => compareKeys(orderKey(a, up), orderKey(b, up)));
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
  if (constraint.metric) return Object.hasOwn(c.scores, constraint.metric) ? c.scores[constraint.metric] : null;
  if (constraint.key === "budget_gib" && c.memory_source === DATA.rules.remote_memory) return null;
  return c[constraint.field];
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
