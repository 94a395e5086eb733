// The dashboard of messaging-auth-emulator: plain JavaScript, no build step. Everything it shows and does
// goes through the control API with the control token the user gave (kept in this tab's sessionStorage).
"use strict";

const CONTROL = document.body.dataset.control;
const POLL = Number(document.body.dataset.poll) || 1000;
const TOKEN_KEY = "messaging-auth-emulator.control-token";
const $ = (id) => document.getElementById(id);

const view = {
  namespace: new URLSearchParams(location.search).get("namespace") || "default",
  tab: "requests",
  lastSeq: 0, // the newest journal sequence the page has asked about
  requestsStale: true, // the filters or the namespace changed (or it was reset): load the requests anew
  entries: [], // masked journal entries of the namespace, oldest first
  chosenRequest: null,
  chosenToken: null,
  polls: 0,
};

// ---- the control API ----

class ControlError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.field = body && body.error && body.error.field;
  }
}

async function call(method, path, { params = {}, body, raw = false } = {}) {
  const url = new URL(CONTROL + path, location.origin);
  url.searchParams.set("namespace", view.namespace);
  for (const [key, value] of Object.entries(params)) if (value !== "" && value != null) url.searchParams.set(key, value);
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["X-Emulator-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (raw && response.ok) return response;
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ControlError(response.status, parsed);
  return parsed;
}

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function failed(error) {
  if (error.status === 401) {
    say("This emulator needs its control token: enter it above.", true);
    $("token").focus();
  } else {
    say(`Refused: ${error.message}${error.field ? ` (${error.field})` : ""}`, true);
  }
}

// `label`: the message of success, or a function of what `work` answered that makes it
async function act(label, work) {
  try {
    const answer = await work();
    say(typeof label === "function" ? label(answer) : label);
    await refresh(true);
  } catch (error) {
    failed(error);
  }
}

// ---- small DOM helpers (text only: nothing from the emulator is parsed as HTML) ----

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value); // through the CSSOM: the page's CSP allows no inline style
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const pre = (text) => el("pre", {}, text === "" ? "(empty)" : text);
const empty = (columns, text = "none") => el("tr", {}, el("td", { class: "empty", colspan: columns }, text));

function headerList(headers) {
  const names = Object.keys(headers || {});
  if (!names.length) return el("p", { class: "muted" }, "(no headers)");
  return el("dl", { class: "headers" }, names.map((name) => [el("dt", {}, name), el("dd", {}, headers[name])]));
}

function download(name, text, type) {
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- requests ----

function filters() {
  const form = $("filters");
  return { provider: form.provider.value, path: form.path.value, status: form.status.value.trim(), fault: form.fault.value.trim() };
}

async function loadRequests(fromScratch) {
  if (fromScratch) {
    view.entries = [];
    view.lastSeq = 0;
  }
  const answer = await call("GET", "/requests", { params: { ...filters(), after: view.lastSeq } });
  const changed = answer.entries.length > 0 || fromScratch;
  view.entries = view.entries.concat(answer.entries).slice(-500);
  view.lastSeq = answer.last_seq;
  if (changed) drawRequests();
  return changed;
}

function drawRequests() {
  const rows = view.entries.slice().reverse().map((entry) =>
    el("tr", { class: entry.seq === view.chosenRequest ? "chosen" : "" },
      el("td", {}, el("button", { type: "button", class: "link", "aria-label": `request ${entry.seq}`, onclick: () => chooseRequest(entry.seq) }, String(entry.seq))),
      el("td", {}, entry.time.slice(11, 23)),
      el("td", {}, entry.provider + (entry.direction === "outgoing" ? " (webhook)" : "")),
      el("td", {}, `${entry.method} ${entry.path}`),
      el("td", { class: `s${Math.floor(entry.status / 100)}` }, String(entry.status)),
      el("td", {}, entry.reason || ""),
      el("td", {}, entry.faults.map((fault) => fault.kind).join(", "))));
  $("request-rows").replaceChildren(...(rows.length ? rows : [empty(7, "no request matches")]));
}

function tokenLinks(label, fingerprints) {
  if (!fingerprints.length) return null;
  return el("p", {}, `${label}: `, fingerprints.map((key) =>
    [el("button", { type: "button", class: "link", onclick: () => showToken(key, true) }, `token ${key.slice(0, 12)}`), " "]));
}

function chooseRequest(seq) {
  view.chosenRequest = seq;
  drawRequests();
  const entry = view.entries.find((candidate) => candidate.seq === seq);
  if (!entry) return;
  const target = entry.query ? `${entry.path}?${entry.query}` : entry.path;
  $("request-detail").replaceChildren(
    el("h3", {}, `#${entry.seq} ${entry.method} ${target}`),
    el("p", {}, `${entry.provider} · ${entry.time} (emulated) · status ${entry.status}`,
      entry.reason ? ` · refused: ${entry.reason}` : "",
      entry.faults.length ? ` · faults: ${entry.faults.map((fault) => `${fault.kind} (${fault.rule})`).join(", ")}` : ""),
    tokenLinks("Tokens used", entry.tokens.used),
    tokenLinks("Tokens issued", entry.tokens.issued),
    el("h3", {}, "Request headers"), headerList(entry.request_headers),
    el("h3", {}, "Request body"), pre(entry.request_body),
    el("h3", {}, "Response headers"), headerList(entry.response_headers),
    el("h3", {}, "Response body"), pre(entry.response_body));
}

// ---- token timeline ----

// `liveperson:consumer:0ab6af76-...` -> `consumer 0ab6af76…`: the kind and the start of the id
function shortSubject(subject) {
  const [, kind = "", id = ""] = subject.split(":");
  return id.length > 12 ? `${kind} ${id.slice(0, 8)}…` : `${kind} ${id}`;
}

function drawTimeline(data) {
  const drawn = JSON.stringify([data, view.chosenToken]);
  if (drawn === view.drawnTimeline) return; // a frozen clock and nothing new: keep the page (and its focus) as it is
  view.drawnTimeline = drawn;
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : undefined;
  const now = data.now_epoch;
  const tokens = data.tokens.map((token) => ({
    kind: "token", key: token.fingerprint, start: token.issued_at, end: token.expires_at, refresh: token.refresh_until,
    label: `token ${token.fingerprint.slice(0, 8)} · ${shortSubject(token.subjects[token.subjects.length - 1] || "")}`,
  }));
  const sessions = data.sessions.map((session) => ({ kind: "session", label: `${session.kind} ${session.subject}`, start: null, end: session.expires_at }));
  const lanes = tokens.concat(sessions);
  // the window fits lifetimes; a refresh window (LivePerson's is a month) may run off its right edge
  const times = lanes.flatMap((lane) => [lane.start, lane.end]).filter((t) => t !== null && t !== undefined);
  let from = Math.min(now - 600, ...times);
  let to = Math.max(now + 600, ...times);
  if (lanes.some((lane) => lane.refresh && lane.refresh > to)) to += (to - from) / 2; // room to see refresh windows begin
  from = Math.max(from, now - 2 * 86400); // a window a person can read: two days either side at most
  to = Math.min(to, now + 2 * 86400);
  const at = (t) => Math.min(100, Math.max(0, ((t - from) / (to - from)) * 100));
  const stamp = (t) => new Date(t * 1000).toISOString().slice(0, 19).replace("T", " ");
  const rows = lanes.map((lane) => {
    const left = at(lane.start ?? from);
    const right = lane.end === null || lane.end === undefined ? 100 : at(lane.end);
    const title = `${lane.label}: ${lane.start ? `issued ${stamp(lane.start)}` : "issued before this window"}, ${lane.end ? `expires ${stamp(lane.end)}` : "never expires"}`;
    const style = { left: `${left}%`, width: `${Math.max(right - left, 0.4)}%` };
    const bar = lane.kind === "token"
      ? el("button", { type: "button", class: `bar${lane.key === view.chosenToken ? " chosen" : ""}`, style, title, "data-key": lane.key, "aria-label": title, onclick: () => showToken(lane.key, false) })
      : el("span", { class: `bar session${lane.end ? "" : " open-ended"}`, style, title, role: "img", "aria-label": title });
    const refreshable = lane.refresh && lane.end && lane.refresh > lane.end
      ? el("span", { class: `bar refresh${at(lane.refresh) >= 100 ? " open-ended" : ""}`, role: "img", style: { left: `${right}%`, width: `${Math.max(at(lane.refresh) - right, 0.4)}%` },
          "aria-label": `refresh window until ${stamp(lane.refresh)}`, title: `refresh window until ${stamp(lane.refresh)}` })
      : null;
    return el("div", { class: "lane" }, el("span", { class: "label", title: lane.label }, lane.label), el("div", { class: "track" }, refreshable, bar));
  });
  const nowLine = el("div", { class: "now", style: { left: `calc(16rem + (100% - 16rem) * ${at(now) / 100})` }, "aria-hidden": "true" },
    el("span", { class: "now-label" }, "now"));
  const axis = el("div", { class: "axis", "aria-hidden": "true" }, el("span", {}, stamp(from)), el("span", {}, stamp(to)));
  $("timeline").replaceChildren(...(rows.length ? rows : [el("p", { class: "muted" }, "No live token or session.")]), axis, nowLine);
  if (focused) $("timeline").querySelector(`[data-key="${focused}"]`)?.focus(); // the same token keeps the focus
}

async function showToken(key, switchTab) {
  view.chosenToken = key;
  if (switchTab) chooseTab("tokens");
  try {
    const token = await call("GET", `/timeline/tokens/${key}`);
    const expired = token.expires_at !== null && token.expires_at * 1000 <= Date.parse($("clock-now").textContent);
    const state = token.revoked ? "revoked" : expired ? (token.refresh_until ? "expired, refreshable" : "expired") : "live";
    $("token-detail").replaceChildren(
      el("h3", {}, `Token ${key.slice(0, 12)} (${state})`),
      el("p", {}, `subjects: ${token.subjects.join(", ")}`),
      el("p", {}, `issued: ${token.issued_at ? new Date(token.issued_at * 1000).toISOString() : "unknown"} · expires: ${token.expires_at ? new Date(token.expires_at * 1000).toISOString() : "never"}`,
        token.refresh_until ? ` · refreshable until ${new Date(token.refresh_until * 1000).toISOString()}` : ""),
      el("div", { class: "buttons" },
        el("button", { type: "button", id: "token-expire", onclick: () => act("Token expired.", () => call("POST", "/tokens/expire", { body: { fingerprint: key } })) }, "Expire now"),
        el("button", { type: "button", id: "token-revoke", class: "danger", onclick: () => act("Token revoked.", () => call("POST", "/tokens/revoke", { body: { fingerprint: key } })) }, "Revoke")),
      el("h3", {}, "Header"), pre(token.header ? JSON.stringify(token.header, null, 2) : "(not a JWT, or no longer held whole)"),
      el("h3", {}, "Claims"), pre(token.claims ? JSON.stringify(token.claims, null, 2) : "(not a JWT, or no longer held whole)"));
  } catch (error) {
    failed(error);
  }
}

// ---- faults, conversations, webhooks ----

function schedule(rule) {
  const parts = [];
  if (rule.times) parts.push(`${rule.times} times`);
  if (rule.after) parts.push(`after ${rule.after}`);
  if (rule.every) parts.push(`every ${rule.every}`);
  if (rule.probability !== null && rule.probability !== undefined) parts.push(`p=${rule.probability}`);
  return parts.join(", ") || "always";
}

function drawFaults(rules) {
  const rows = rules.map((rule) => el("tr", {},
    el("td", {}, rule.id), el("td", {}, rule.kind + (rule.status ? ` ${rule.status}` : "")),
    el("td", {}, el("code", {}, JSON.stringify(rule.match || {}))), el("td", {}, schedule(rule)),
    el("td", {}, String(rule.matched)), el("td", {}, String(rule.fired)),
    el("td", {}, el("button", { type: "button", "aria-label": `remove ${rule.id}`, onclick: () => act(`Removed ${rule.id}.`, () => call("DELETE", `/faults/${rule.id}`)) }, "Remove"))));
  $("fault-rows").replaceChildren(...(rows.length ? rows : [empty(7)]));
}

function drawConversations(conversations) {
  const items = conversations.map((conversation) => el("article", { class: "conversation" },
    el("h3", {}, `${conversation.provider} ${conversation.tenant} · conversation ${conversation.id} (${conversation.state})`),
    el("p", {}, `started ${conversation.started} · participants: ${conversation.participants.map((p) => `${p.id} (${p.role})`).join(", ")}`),
    conversation.step_up ? el("p", {}, `stepped up at ${conversation.step_up.at} from consumer ${conversation.step_up.from}`) : null,
    conversation.events.length
      ? el("ol", { start: String(conversation.events[0].sequence) }, conversation.events.map((event) =>
          el("li", {}, `${event.time} ${event.role} ${event.by}: `, el("span", {}, event.type ? `[${event.type}] ${event.text}` : event.text))))
      : el("p", { class: "muted" }, "no events yet")));
  $("conversations").replaceChildren(...(items.length ? items : [el("p", { class: "muted" }, "No conversation in this namespace.")]));
}

function drawDeliveries(answer) {
  $("deliveries-held").textContent = answer.held ? "Deliveries are held: nothing is attempted until Release." : "Deliveries are attempted as they fall due.";
  const items = answer.deliveries.slice().reverse().map((delivery) => el("article", { class: "delivery" },
    el("h3", {}, `${delivery.kind} → ${delivery.url}`),
    el("p", {}, `${delivery.id} · ${delivery.state}`, delivery.next_attempt_at ? ` · next attempt ${new Date(delivery.next_attempt_at * 1000).toISOString()}` : ""),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "attempt at (emulated)"), el("th", { scope: "col" }, "status"), el("th", { scope: "col" }, "error"))),
      el("tbody", {}, delivery.attempts.length
        ? delivery.attempts.map((attempt) => el("tr", {}, el("td", {}, new Date(attempt.at * 1000).toISOString()),
            el("td", { class: `s${Math.floor(attempt.status / 100)}` }, String(attempt.status)), el("td", {}, attempt.error)))
        : [empty(3, "not attempted yet")])),
    el("details", {}, el("summary", {}, "payload"), pre(JSON.stringify(delivery.payload, null, 2)))));
  $("deliveries").replaceChildren(...(items.length ? items : [el("p", { class: "muted" }, "No outgoing webhook delivery.")]));
}

// ---- the live loop ----

async function drawClock(clock) {
  $("clock-now").textContent = clock.now;
  $("clock-frozen").hidden = !clock.frozen;
}

async function loadNamespaces() {
  const names = new Set((await call("GET", "/namespaces")).namespaces);
  names.add(view.namespace);
  const select = $("namespace");
  const wanted = [...names].sort();
  if (wanted.join() !== [...select.options].map((option) => option.value).join()) {
    select.replaceChildren(...wanted.map((name) => el("option", { value: name }, name)));
  }
  select.value = view.namespace;
}

// one refresh at a time: the poll, a filter and a control may all ask at once
let queue = Promise.resolve();
function refresh(force = false) {
  const next = queue.then(() => refreshNow(force));
  queue = next.catch(() => {});
  return next;
}

async function refreshNow(force) {
  if (force) await loadNamespaces();
  const reload = view.requestsStale;
  view.requestsStale = false;
  const changed = (await loadRequests(reload)) || force;
  if (view.tab === "tokens") {
    const timeline = await call("GET", "/timeline");
    drawClock(timeline);
    drawTimeline(timeline);
  } else {
    drawClock(await call("GET", "/clock"));
  }
  if (!changed) return;
  if (view.tab === "faults") drawFaults((await call("GET", "/faults")).faults);
  if (view.tab === "conversations") drawConversations((await call("GET", "/conversations")).conversations);
  if (view.tab === "webhooks") drawDeliveries(await call("GET", "/deliveries", { params: { masked: "true" } }));
}

async function poll() {
  try {
    if (view.polls++ % 10 === 0) await loadNamespaces();
    await refresh(false);
    if (!$("status").classList.contains("error") && !$("status").textContent) say("Live.");
  } catch (error) {
    failed(error);
  }
  setTimeout(poll, POLL);
}

function chooseTab(name) {
  view.tab = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  refresh(true).catch(failed);
}

// ---- wiring ----

function number(value) {
  return value.trim() === "" ? undefined : Number(value);
}

function faultBody(form) {
  const match = {};
  for (const key of ["provider", "method", "path"]) if (form[key].value.trim()) match[key] = form[key].value.trim();
  const body = { kind: form.kind.value, match };
  for (const key of ["status", "delay", "times", "after", "every", "probability"]) {
    const value = number(form[key].value);
    if (value !== undefined) body[key] = value;
  }
  return body;
}

function wire() {
  $("token").value = "";
  $("namespace").replaceChildren(el("option", { value: view.namespace }, view.namespace));
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    view.requestsStale = true;
    act("Control token set for this tab.", async () => {});
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    say("Control token forgotten.");
  });
  $("namespace").addEventListener("change", (event) => {
    view.namespace = event.target.value;
    history.replaceState(null, "", `?namespace=${encodeURIComponent(view.namespace)}`);
    view.chosenRequest = null;
    $("request-detail").replaceChildren(el("p", { class: "muted" }, "Choose a request to see its headers and bodies."));
    $("token-detail").replaceChildren();
    view.requestsStale = true;
    refresh(true).catch(failed);
  });
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => act(`Clock advanced by ${button.dataset.advance}.`, () => call("POST", "/clock", { body: { advance: button.dataset.advance } })));
  }
  $("advance-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const by = $("advance-by").value.trim();
    act(`Clock advanced by ${by}.`, () => call("POST", "/clock", { body: { advance: /^[0-9.]+$/.test(by) ? Number(by) : by } }));
  });
  $("set-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("Clock set.", () => call("POST", "/clock", { body: { set: $("set-to").value.trim() } }));
  });
  $("freeze").addEventListener("click", () => act("Clock frozen.", () => call("POST", "/clock", { body: { freeze: true } })));
  $("unfreeze").addEventListener("click", () => act("Clock running.", () => call("POST", "/clock", { body: { freeze: false } })));
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act((added) => `Fault rule ${added.id} added.`, () => call("POST", "/faults", { body: faultBody(event.target) }));
  });
  for (const button of document.querySelectorAll("[data-deliveries]")) {
    const verb = button.dataset.deliveries;
    button.addEventListener("click", () => act(`Deliveries: ${verb} done.`, () => call("POST", `/deliveries/${verb}`, { params: { masked: "true" } })));
  }
  $("reset").addEventListener("click", () => {
    if (confirm(`Reset namespace ${view.namespace}? Its tenants, clock, keys and journal are dropped.`)) {
      view.requestsStale = true;
      act(`Namespace ${view.namespace} reset.`, () => call("POST", "/reset"));
    }
  });
  $("export").addEventListener("click", () => act("State exported.", async () => {
    download(`emulator-state-${view.namespace}.json`, JSON.stringify(await call("GET", "/state"), null, 2), "application/json");
  }));
  $("record").addEventListener("click", () => act("Scenario recorded.", async () => {
    const response = await call("GET", "/record", { params: { format: "yaml" }, raw: true });
    download(`scenario-${view.namespace}.yaml`, await response.text(), "application/yaml");
  }));
  $("filters").addEventListener("input", () => {
    view.requestsStale = true;
    refresh(false).catch(failed);
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => chooseTab(tab.id.slice(4)));
    tab.addEventListener("keydown", (event) => {
      const tabs = [...document.querySelectorAll("[role=tab]")];
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      next.focus();
      chooseTab(next.id.slice(4));
    });
  }
}

wire();
poll();
