// The wallboard: polls /api/v1/queues and /api/v1/agents every second and draws them.
// Start reading at refresh(). Every number shown carries its raw value in data-value, so a
// test (or a curious supervisor) can check it against /metrics. Text from the feed (queue and
// agent names, reasons) is only ever set as textContent.
"use strict";

const POLL_MS = 1000;
const AMBER_POINTS = 0.1; // service level this far below target is amber, further below red
const STATES = ["available", "on_call", "wrap_up", "away", "offline"];
const STATE_NAMES = { available: "Available", on_call: "On a call", wrap_up: "Wrap-up", away: "Away", offline: "Offline" };

const params = new URLSearchParams(location.search);
const view = {
  queues: listParam("queue"),
  agents: listParam("agent"),
  window: params.get("window"),
  kiosk: params.has("kiosk"),
};
const seen = { queues: null, agents: null, okAt: null, failure: null };

function listParam(name) {
  const values = params.getAll(name).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  return values.length ? new Set(values) : null;
}

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(response.status === 401 ? "not authorised" : `HTTP ${response.status}`);
  return response.json();
}

async function refresh() {
  try {
    const [queues, agents] = await Promise.all([getJson("/api/v1/queues"), getJson("/api/v1/agents")]);
    Object.assign(seen, { queues, agents, okAt: performance.now(), failure: null });
    drawQueues(queues);
    drawAgents(agents);
  } catch (error) {
    seen.failure = String(error.message || error);
  }
  drawFreshness();
  setTimeout(refresh, POLL_MS);
}

// ---- freshness -------------------------------------------------------------------------------

function drawFreshness() {
  const q = seen.queues;
  document.getElementById("at").textContent = q ? clock(q.at) : "–";
  document.getElementById("newest").textContent = q && q.newest_event ? clock(q.newest_event) : "none yet";
  const warning = staleWarning();
  const banner = document.getElementById("stale");
  banner.hidden = warning === null;
  banner.textContent = warning || "";
  document.body.classList.toggle("stale", warning !== null);
}

function staleWarning() {
  const q = seen.queues;
  if (q === null) return seen.failure ? `No data: ${seen.failure}` : "Waiting for the first snapshot…";
  const limit = q.stale_after_seconds;
  const quiet = (performance.now() - seen.okAt) / 1000;
  if (quiet > limit) {
    return `STALE: the worker has not answered for ${duration(quiet)} (${seen.failure || "no reply"}); numbers are from ${clock(q.at)}`;
  }
  if (q.feed_silent_seconds === null) return "No events received yet";
  if (q.feed_silent_seconds > limit) {
    return `STALE: no events for ${duration(q.feed_silent_seconds)}; the feed may have stopped (newest event ${clock(q.newest_event)})`;
  }
  return null;
}

// ---- queue tiles -----------------------------------------------------------------------------

function drawQueues(doc) {
  const tiles = document.getElementById("tiles");
  const shown = doc.queues.filter((q) => !view.queues || view.queues.has(q.queue));
  tiles.replaceChildren(...shown.map(tile));
  tiles.dataset.at = doc.at;
  if (!shown.length) tiles.append(element("p", "empty", "No queue to show yet."));
}

function rollingWindow(queue) {
  const names = Object.keys(queue.windows).filter((w) => w !== "today");
  if (view.window && queue.windows[view.window]) return view.window;
  if (names.includes("15m")) return "15m";
  return names.sort((a, b) => seconds(a) - seconds(b))[0] || "today";
}

function tile(queue) {
  const w = rollingWindow(queue);
  const now = queue.windows[w];
  const today = queue.windows.today;
  const box = element("article", "tile " + level(now.service_level_ratio, queue.service_level_target_ratio));
  box.dataset.queue = queue.queue;
  box.append(element("h2", "queue-name", queue.queue));
  const big = element("div", "big-row");
  big.append(
    figure("Waiting now", "waiting_calls", null, queue.waiting_calls, String(queue.waiting_calls)),
    figure("Longest wait", "longest_wait_seconds", null, queue.longest_wait_seconds, minutes(queue.longest_wait_seconds)),
    serviceLevel(`Service level ${w}`, w, now, queue),
    staffingGap(`Agents short ${w}`, w, now),
  );
  const small = element("div", "small-row");
  small.append(
    serviceLevel("Service level today", "today", today, queue),
    figure(`Answer speed ${w}`, "answer_speed_seconds", w, now.answer_speed_seconds, minutes(now.answer_speed_seconds)),
    figure(`Abandoned ${w}`, "abandon_ratio", w, now.abandon_ratio, percent(now.abandon_ratio)),
    figure(`Occupancy ${w}`, "occupancy_ratio", w, now.occupancy_ratio, percent(now.occupancy_ratio)),
    figure(`Satisfied ${w}`, "csat_ratio", w, now.csat_ratio, percent(now.csat_ratio)),
    figure(`Repeat calls ${w}`, "repeat_call_ratio", w, now.repeat_call_ratio, percent(now.repeat_call_ratio)),
  );
  const target = `Target ${percent(queue.service_level_target_ratio)} in ${queue.service_level_threshold_seconds} s`;
  box.append(big, small, agentCounts(queue), element("p", "target", target));
  return box;
}

function serviceLevel(label, window, values, queue) {
  const ratio = values ? values.service_level_ratio : null;
  const shown = figure(label, "service_level_ratio", window, ratio, percent(ratio));
  shown.classList.add("sl", level(ratio, queue.service_level_target_ratio));
  return shown;
}

// Erlang C's gap: agents needed for the target minus agents staffed now (null: no handled calls)
function staffingGap(label, window, values) {
  const gap = values.staffing_gap_agents;
  let text = "–";
  if (gap !== null && gap !== undefined) text = gap > 0 ? `${gap} short` : gap < 0 ? `${-gap} spare` : "even";
  const shown = figure(label, "staffing_gap_agents", window, gap ?? null, text);
  shown.classList.add("gap", gap > 0 ? "bad" : gap === null || gap === undefined ? "none" : "good");
  return shown;
}

function level(ratio, target) {
  if (ratio === null || ratio === undefined) return "none";
  if (ratio >= target) return "good";
  return ratio >= target - AMBER_POINTS ? "warn" : "bad";
}

function agentCounts(queue) {
  const row = element("div", "agent-counts");
  for (const state of ["available", "on_call", "wrap_up", "away"]) {
    const count = queue.agents[state] || 0;
    const item = element("span", `count state-${state}`);
    const value = element("b", "value", String(count));
    Object.assign(value.dataset, { metric: "agents", state, value: String(count) });
    item.append(value, document.createTextNode(" " + STATE_NAMES[state].toLowerCase()));
    row.append(item);
  }
  return row;
}

function figure(label, metric, window, value, text) {
  const box = element("div", "figure");
  const number = element("span", "value", text);
  Object.assign(number.dataset, { metric, value: value === null ? "" : String(value) });
  if (window) number.dataset.window = window;
  box.append(number, element("span", "label", label));
  return box;
}

// ---- agent list ------------------------------------------------------------------------------

function drawAgents(doc) {
  const body = document.querySelector("#agent-list tbody");
  const shown = doc.agents.filter(agentShown);
  body.replaceChildren(...shown.map((agent) => agentRow(agent, doc.at)));
  if (!shown.length) {
    const row = element("tr", "empty");
    const cell = element("td", "", "No agent to show yet.");
    cell.colSpan = 7;
    row.append(cell);
    body.append(row);
  }
}

function agentShown(agent) {
  if (view.agents && !view.agents.has(agent.agent)) return false;
  return !view.queues || agent.queues.some((q) => view.queues.has(q));
}

function agentRow(agent, at) {
  const row = element("tr", "agent");
  row.dataset.agent = agent.agent;
  const today = agent.windows.today;
  const state = element("span", `chip state-${agent.state || "unknown"}`, STATE_NAMES[agent.state] || "Unknown");
  const since = element("td", "since");
  if (agent.since) {
    Object.assign(since.dataset, { since: agent.since, at: at });
    showTimeInState(since, 0);
  }
  const handled = today ? today.handled_calls : null;
  const aht = today ? today.handle_time_seconds : null;
  row.append(
    element("td", "name", agent.agent),
    cell(state),
    element("td", "reason", agent.reason || ""),
    since,
    cell(numberSpan("handled_calls", handled, handled === null ? "–" : String(handled))),
    cell(numberSpan("handle_time_seconds", aht, minutes(aht))),
    element("td", "queues", agent.queues.join(", ")),
  );
  return row;
}

function numberSpan(metric, value, text) {
  const span = element("span", "value", text);
  Object.assign(span.dataset, { metric, value: value === null ? "" : String(value) });
  return span;
}

function tickAgents() {
  // time in state: from its start to the snapshot, plus the time since the snapshot arrived
  // (not while stale: then it stays as it was)
  const extra = document.body.classList.contains("stale") ? 0 : (performance.now() - seen.okAt) / 1000;
  for (const cellNode of document.querySelectorAll("td.since[data-since]")) showTimeInState(cellNode, extra);
}

function showTimeInState(cellNode, extra) {
  const inState = (Date.parse(cellNode.dataset.at) - Date.parse(cellNode.dataset.since)) / 1000 + extra;
  cellNode.textContent = minutes(Math.max(0, inState));
}

// ---- formatting --------------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function cell(child) {
  const td = element("td");
  td.append(child);
  return td;
}

function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${Math.round(ratio * 100)}%`;
}

function minutes(total) {
  if (total === null || total === undefined) return "–";
  const whole = Math.floor(total);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function duration(total) {
  return total >= 60 ? `${Math.floor(total / 60)} min ${Math.floor(total % 60)} s` : `${Math.floor(total)} s`;
}

function seconds(window) {
  const units = { s: 1, m: 60, h: 3600, d: 86400 };
  return parseFloat(window) * (units[window.slice(-1)] || 1);
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString();
}

function start() {
  document.body.classList.toggle("kiosk", view.kiosk);
  const filters = [view.queues && `queues: ${[...view.queues].join(", ")}`, view.agents && `agents: ${[...view.agents].join(", ")}`];
  document.getElementById("filters").textContent = filters.filter(Boolean).join(" · ");
  setInterval(() => {
    tickAgents();
    if (seen.queues) drawFreshness();
  }, POLL_MS);
  refresh();
}

start();
