// The console's shell: routes Grafana's URL shapes to page modules, keeps the nav current, and
// gives every page the same fetch helper, time picker and refresh picker.
//
// A page module exports `async function mount(el, params, query)`; it may return a function that
// is called when the page is left (to stop its timers). `params` holds the named parts of the
// pattern plus `path`; `query` is a URLSearchParams of the page URL. Pages that live in their own
// module are listed in PAGE_MODULES and imported on first visit, so alerting.js, runbook.js and
// explore.js need no import of their own; `registerPage(pattern, module)` adds others at run time.

const PAGE_MODULES = [
  ["/", "./home.js"],
  ["/dashboards", "./home.js"],
  ["/d/:uid", "./dashboard.js"],
  ["/d/:uid/:slug", "./dashboard.js"],
  ["/explore", "./explore.js"],
  ["/alerting/list", "./alerting.js"],
  ["/alerting/silences", "./alerting.js"],
  ["/runbooks/:name", "./runbook.js"],
  ["/profiles", "./profiles.js"],
  ["/profiles/:name", "./profiles.js"],
];

const routes = [];
let leave = null;
let routing = 0;

function compile(pattern) {
  if (pattern instanceof RegExp) return { regex: pattern, names: null };
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (part.startsWith(":")) {
        names.push(part.slice(1));
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { regex: new RegExp(`^${source}/?$`), names };
}

// `module` is a module object (with `mount`) or a function returning a promise of one.
export function registerPage(pattern, module) {
  routes.unshift({ ...compile(pattern), module });
}

for (const [pattern, path] of PAGE_MODULES) {
  routes.push({ ...compile(pattern), module: () => import(path) });
}

function match(pathname) {
  for (const route of routes) {
    const found = route.regex.exec(pathname);
    if (!found) continue;
    const params = { path: pathname };
    if (route.names) {
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]);
      });
    } else if (found.groups) {
      Object.assign(params, found.groups);
    }
    return { route, params };
  }
  return null;
}

// The fetch helper every page uses: JSON in and out; a failed answer throws an Error whose message
// is the server's own `message` (which says the cause and the fix), with `status` set.
export async function api(path, options = {}) {
  const init = { ...options, headers: { Accept: "application/json", ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    const error = new Error(`the console did not answer (${err.message}): is \`make up\` still running?`);
    error.status = 0;
    throw error;
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    let message = body && typeof body.message === "string" ? body.message : null;
    if (!message && body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
    const error = new Error(message || `${response.status} ${response.statusText} from ${path}`);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

// Go to a console URL without reloading the page; `replace` rewrites the current history entry.
export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin) {
    location.href = target.href;
    return;
  }
  if (replace) history.replaceState(null, "", target.pathname + target.search + target.hash);
  else history.pushState(null, "", target.pathname + target.search + target.hash);
  route();
}

// Change the URL's query without mounting the page again (a page that already drew the new state).
export function setQuery(query, { replace = true } = {}) {
  const search = query.toString();
  const url = location.pathname + (search ? `?${search}` : "");
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

function markNav(pathname) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    const prefixes = link.dataset.nav.split(" ");
    const current = prefixes.some((p) => (p === "/" ? pathname === "/" : pathname === p || (p.endsWith("/") && pathname.startsWith(p))));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

export function showError(el, message, title = "Error") {
  const box = document.createElement("div");
  box.className = "page-error";
  box.setAttribute("role", "alert");
  const h = document.createElement("h1");
  h.textContent = title;
  const p = document.createElement("p");
  p.textContent = message;
  box.append(h, p);
  el.replaceChildren(box);
}

export async function route() {
  const ticket = ++routing;
  if (leave) {
    try {
      leave();
    } catch (err) {
      console.warn("leaving the page failed", err);
    }
    leave = null;
  }
  const el = document.getElementById("page");
  const found = match(location.pathname);
  markNav(location.pathname);
  if (!found) {
    document.title = "Not found · airscope console";
    showError(el, `No page at ${location.pathname}. The console has /, /dashboards, /d/<uid>, /explore, /alerting/list, /alerting/silences, /runbooks/<name> and /profiles.`, "Page not found");
    return;
  }
  let module = found.route.module;
  try {
    if (typeof module === "function") module = await module();
  } catch (err) {
    if (ticket !== routing) return;
    showError(el, `This page's code did not load (${err.message}).`, "Page not available");
    return;
  }
  if (ticket !== routing) return;
  el.replaceChildren();
  el.className = "";
  const query = new URLSearchParams(location.search);
  try {
    const cleanup = await module.mount(el, found.params, query);
    if (ticket !== routing) {
      if (typeof cleanup === "function") cleanup();
      return;
    }
    if (typeof cleanup === "function") leave = cleanup;
  } catch (err) {
    if (ticket !== routing) return;
    showError(el, err.message);
  }
}

// ---- time ranges (Grafana's grammar: now, now-1h, now-1h/h, epoch ms, or a date) ----

const UNIT_MS = { s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, M: 2592000000, y: 31536000000 };

function roundTo(ms, unit, up) {
  const d = new Date(ms);
  const parts = { y: 0, M: 1, w: 2, d: 2, h: 3, m: 4, s: 5 };
  const level = parts[unit];
  if (level === undefined) return ms;
  if (unit === "w") {
    d.setDate(d.getDate() - d.getDay());
  }
  if (level < 1) d.setMonth(0);
  if (level < 2) d.setDate(1);
  if (level < 3) d.setHours(0);
  if (level < 4) d.setMinutes(0);
  if (level < 5) d.setSeconds(0);
  d.setMilliseconds(0);
  if (!up) return d.getTime();
  const next = new Date(d.getTime());
  if (unit === "y") next.setFullYear(next.getFullYear() + 1);
  else if (unit === "M") next.setMonth(next.getMonth() + 1);
  else if (unit === "w") next.setDate(next.getDate() + 7);
  else if (unit === "d") next.setDate(next.getDate() + 1);
  else next.setTime(next.getTime() + UNIT_MS[unit]);
  return next.getTime() - 1;
}

// Parses one end of a range into epoch ms, or null when it is not in the grammar.
export function parseTime(text, { now = Date.now(), roundUp = false } = {}) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  if (/^\d{10,}$/.test(value)) return Number(value);
  if (value.startsWith("now")) {
    let ms = now;
    let rest = value.slice(3);
    const re = /^\s*([+-])\s*(\d+)\s*([smhdwMy])|^\s*\/\s*([smhdwMy])/;
    while (rest.length) {
      const m = re.exec(rest);
      if (!m) return null;
      if (m[4]) ms = roundTo(ms, m[4], roundUp);
      else ms += (m[1] === "-" ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]];
      rest = rest.slice(m[0].length);
    }
    return ms;
  }
  const date = /^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/.test(value)
    ? new Date(value.includes(" ") || value.includes("T") ? value.replace(" ", "T") : `${value}T00:00:00`)
    : null;
  if (date && !Number.isNaN(date.getTime())) return date.getTime();
  return null;
}

// Checks a range; returns {fromMs, toMs} or throws an Error saying what is wrong.
export function resolveRange(from, to, now = Date.now()) {
  const fromMs = parseTime(from, { now });
  const toMs = parseTime(to, { now, roundUp: true });
  if (fromMs === null) throw new Error(`"${from}" is not a time: use now-1h, a date like 2024-05-01 10:00:00, or epoch milliseconds`);
  if (toMs === null) throw new Error(`"${to}" is not a time: use now, a date like 2024-05-01 10:00:00, or epoch milliseconds`);
  if (toMs <= fromMs) throw new Error(`the range ends (${to}) before it starts (${from}): make "To" later than "From"`);
  return { fromMs, toMs };
}

export const TIME_PRESETS = [
  ["now-5m", "Last 5 minutes"],
  ["now-15m", "Last 15 minutes"],
  ["now-30m", "Last 30 minutes"],
  ["now-1h", "Last 1 hour"],
  ["now-3h", "Last 3 hours"],
  ["now-6h", "Last 6 hours"],
  ["now-12h", "Last 12 hours"],
  ["now-24h", "Last 24 hours"],
  ["now-2d", "Last 2 days"],
  ["now-7d", "Last 7 days"],
];

export const REFRESH_CHOICES = ["", "5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h"];

export function refreshMs(value) {
  const m = /^(\d+)([smhd])$/.exec(value || "");
  return m ? Number(m[1]) * { s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2]] : 0;
}

function formatAbsolute(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function describeRange(from, to) {
  if (to === "now") {
    const preset = TIME_PRESETS.find(([f]) => f === from);
    if (preset) return preset[1];
  }
  const show = (v) => (/^\d{10,}$/.test(v) ? formatAbsolute(Number(v)) : v);
  return `${show(from)} to ${show(to)}`;
}

let pickerCount = 0;

// The time picker and refresh picker of a page's toolbar. `onChange({from, to, refresh})` is
// called with the new values after they were checked; an invalid custom range shows its message
// and changes nothing.
export function timeControls({ from, to, refresh = "", onChange, onRefresh }) {
  const id = `tp${++pickerCount}`;
  const wrap = document.createElement("div");
  wrap.className = "time-controls";

  const details = document.createElement("details");
  details.className = "time-picker dropdown";
  const summary = document.createElement("summary");
  summary.className = "btn";
  summary.setAttribute("aria-label", `Time range: ${describeRange(from, to)}`);
  summary.innerHTML = '<svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" style="vertical-align:-2px;margin-right:4px"><circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.3"/></svg>';
  const label = document.createElement("span");
  label.className = "time-label";
  label.textContent = describeRange(from, to);
  summary.append(label);
  details.append(summary);

  const panel = document.createElement("div");
  panel.className = "time-panel";
  const form = document.createElement("form");
  form.className = "time-custom";
  form.innerHTML = `
    <h2>Absolute time range</h2>
    <label for="${id}-from">From</label>
    <input id="${id}-from" name="from" autocomplete="off" spellcheck="false">
    <label for="${id}-to">To</label>
    <input id="${id}-to" name="to" autocomplete="off" spellcheck="false">
    <p class="time-error" role="alert" hidden></p>
    <button type="submit" class="btn btn-primary">Apply time range</button>`;
  const show = (v) => (/^\d{10,}$/.test(v) ? formatAbsolute(Number(v)) : v);
  form.elements.from.value = show(from);
  form.elements.to.value = show(to);
  const errorEl = form.querySelector(".time-error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = form.elements.from.value.trim();
    const t = form.elements.to.value.trim();
    try {
      resolveRange(f, t);
    } catch (err) {
      errorEl.textContent = err.message;
      errorEl.hidden = false;
      return;
    }
    errorEl.hidden = true;
    // Absolute dates go into the URL as epoch ms, like Grafana's.
    const norm = (v, up) => (v.startsWith("now") || /^\d{10,}$/.test(v) ? v : String(parseTime(v, { roundUp: up })));
    details.open = false;
    onChange({ from: norm(f, false), to: norm(t, true), refresh });
  });
  const list = document.createElement("ul");
  list.className = "time-presets";
  list.setAttribute("aria-label", "Relative time ranges");
  for (const [value, text] of TIME_PRESETS) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.from = value;
    if (value === from && to === "now") b.setAttribute("aria-pressed", "true");
    b.addEventListener("click", () => {
      details.open = false;
      onChange({ from: value, to: "now", refresh });
    });
    li.append(b);
    list.append(li);
  }
  panel.append(form, list);
  details.append(panel);
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      summary.focus();
    }
  });

  const refreshButton = document.createElement("button");
  refreshButton.type = "button";
  refreshButton.className = "btn";
  refreshButton.textContent = "Refresh";
  refreshButton.setAttribute("aria-label", "Refresh now");
  refreshButton.addEventListener("click", () => onRefresh && onRefresh());

  const select = document.createElement("select");
  select.id = `${id}-refresh`;
  select.className = "refresh-picker";
  const selectLabel = document.createElement("label");
  selectLabel.htmlFor = select.id;
  selectLabel.className = "visually-hidden";
  selectLabel.textContent = "Auto refresh";
  for (const value of REFRESH_CHOICES) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = value ? `every ${value}` : "Auto refresh off";
    select.append(o);
  }
  if (refresh && !REFRESH_CHOICES.includes(refresh)) {
    const o = document.createElement("option");
    o.value = refresh;
    o.textContent = `every ${refresh}`;
    select.append(o);
  }
  select.value = refresh || "";
  select.addEventListener("change", () => onChange({ from, to, refresh: select.value }));

  wrap.append(details, refreshButton, selectLabel, select);
  return wrap;
}

// ---- start ----

function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || a.dataset.reload !== undefined) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/static/") || url.pathname.startsWith("/api/")) return;
  if (!match(url.pathname)) return;
  event.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    location.hash = url.hash;
    return;
  }
  navigate(url.href);
  document.getElementById("page").focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

if (typeof window !== "undefined" && !window.__airscopeShell) {
  window.__airscopeShell = true;
  document.addEventListener("click", onLinkClick);
  // A click outside an open dropdown (details.dropdown) closes it, as a menu does.
  document.addEventListener("click", (event) => {
    for (const open of document.querySelectorAll("details.dropdown[open]")) if (!open.contains(event.target)) open.open = false;
  });
  window.addEventListener("popstate", () => route());
  route();
}
