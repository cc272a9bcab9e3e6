// The alerting pages: /alerting/list (firing and pending alerts from Prometheus, what the local
// receiver was notified) and /alerting/silences (Alertmanager's silences: list, create, expire).
// Reading needs nothing; creating or expiring a silence sends the local API key, typed once into
// the "API key" field and kept in sessionStorage (gone when the tab closes).
import { api } from "./app.js";

const KEY_STORE = "airscope.apiKey";
const REFRESH_MS = 15000; // Prometheus evaluates local rules every few seconds; 15 s keeps the page current
const OPERATORS = ["=", "!=", "=~", "!~"];
// Grafana's silence editor takes ?matcher=name=value (repeatable); so does this page.
const MATCHER_TEXT = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function injectStyle() {
  if (document.getElementById("alerting-style")) return;
  const style = document.createElement("style");
  style.id = "alerting-style";
  style.textContent = `
.alerting .tabs { display: flex; gap: 4px; margin: 0 0 16px; border-bottom: 1px solid var(--border, #2c3235); }
.alerting .tabs a { padding: 6px 12px; color: inherit; text-decoration: none; border-bottom: 2px solid transparent; }
.alerting .tabs a[aria-current="page"] { border-bottom-color: #f46800; }
.alerting section { margin: 0 0 24px; }
.alerting .badge { display: inline-block; padding: 1px 8px; border-radius: 2px; font-size: 12px; font-weight: 500; }
.badge.firing { background: #d10e5c33; color: #ff7383; border: 1px solid #d10e5c; }
.badge.pending { background: #f5b73d22; color: #f5b73d; border: 1px solid #a87a00; }
.badge.resolved, .badge.expired { background: #1a7f4b22; color: #6ccf8e; border: 1px solid #1a7f4b; }
.badge.silenced, .badge.active { background: #3d71d922; color: #8ab8ff; border: 1px solid #3d71d9; }
.alerting .labels { display: flex; flex-wrap: wrap; gap: 4px; }
.alerting .label { font-family: monospace; font-size: 12px; background: #22252b; border: 1px solid #2c3235; border-radius: 2px; padding: 0 6px; }
.alerting .annotation { color: #9fa7b3; font-size: 13px; margin-top: 4px; }
.alerting .errors { border-left: 3px solid #d10e5c; background: #d10e5c1a; padding: 8px 12px; margin: 0 0 16px; }
.alerting .errors p { margin: 2px 0; }
.silence-form { display: grid; gap: 10px; max-width: 760px; background: #181b1f; border: 1px solid #2c3235; padding: 16px; }
.silence-form fieldset { border: 1px solid #2c3235; padding: 8px 12px; }
.silence-form .matcher { display: grid; grid-template-columns: 1fr 80px 1fr auto; gap: 6px; align-items: end; margin-bottom: 6px; }
.silence-form .matcher label, .silence-form .field label { display: block; font-size: 12px; color: #9fa7b3; }
.silence-form .field input, .silence-form .field textarea, .silence-form .matcher input, .silence-form .matcher select { width: 100%; }
.silence-form .row { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 10px; }
.silence-form .form-error { color: #ff7383; margin: 0; }
.silence-form .form-ok { color: #6ccf8e; margin: 0; }
.silence-form .hint { color: #9fa7b3; font-size: 12px; margin: 2px 0 0; }
.alerting .data-table td .btn { padding: 2px 8px; }
`;
  document.head.append(style);
}

function when(ms) {
  if (ms === null || ms === undefined) return h("span", { class: "muted", text: "–" });
  const d = new Date(ms);
  const ago = Math.round((Date.now() - ms) / 1000);
  let rel;
  const abs = Math.abs(ago);
  if (abs < 90) rel = `${abs}s`;
  else if (abs < 5400) rel = `${Math.round(abs / 60)}m`;
  else if (abs < 172800) rel = `${Math.round(abs / 3600)}h`;
  else rel = `${Math.round(abs / 86400)}d`;
  rel = ago >= 0 ? `${rel} ago` : `in ${rel}`;
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, rel);
}

function labelChips(labels, skip = []) {
  const box = h("span", { class: "labels" });
  for (const [name, value] of Object.entries(labels || {})) {
    if (skip.includes(name)) continue;
    box.append(h("span", { class: "label", text: `${name}=${value}` }));
  }
  return box;
}

function tabs(current) {
  const link = (href, text) => h("a", { href, "aria-current": href === current ? "page" : null }, text);
  return h("nav", { class: "tabs", "aria-label": "Alerting" }, link("/alerting/list", "Alerts"), link("/alerting/silences", "Silences"));
}

function errorBox(messages) {
  if (!messages.length) return null;
  return h("div", { class: "errors", role: "alert" }, messages.map((m) => h("p", { text: m })));
}

function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001 ? value.toPrecision(4) : String(+value.toFixed(4));
}

function silenceLink(alert) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(alert.labels)) {
    if (name === "alertname" || name === "service" || name === "instance") params.append("matcher", `${name}=${value}`);
  }
  params.set("comment", `${alert.name} `);
  return `/alerting/silences?${params}`;
}

function alertsTable(alerts) {
  if (!alerts.length) {
    return h("p", { class: "muted empty", text: "No alert is firing or pending: Prometheus evaluates every rule and none holds." });
  }
  const body = h("tbody");
  for (const alert of alerts) {
    const name = alert.runbook
      ? h("a", { href: alert.runbook, title: `Runbook for ${alert.name}` }, alert.name)
      : h("span", {}, alert.name);
    const annotations = [alert.annotations.summary, alert.annotations.description].filter(Boolean);
    body.append(
      h(
        "tr",
        { "data-alert": alert.name, "data-state": alert.state, "data-silenced": String(alert.silenced) },
        h("td", {}, h("span", { class: `badge ${alert.state}` }, alert.state), alert.silenced ? [" ", h("span", { class: "badge silenced" }, "silenced")] : null),
        h("td", {}, h("strong", {}, name), annotations.map((t) => h("div", { class: "annotation", text: t }))),
        h("td", {}, labelChips(alert.labels, ["alertname"])),
        h("td", {}, when(alert.activeAt)),
        h("td", { class: "num" }, formatValue(alert.value)),
        h(
          "td",
          {},
          alert.runbook ? h("a", { href: alert.runbook }, "Runbook") : h("span", { class: "muted" }, "no runbook"),
          " · ",
          h("a", { href: silenceLink(alert), "aria-label": `Silence ${alert.name}` }, "Silence"),
        ),
      ),
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data-table alerts-table" },
      h("caption", { class: "visually-hidden", text: "Firing and pending alerts" }),
      h("thead", {}, h("tr", {}, ["State", "Alert", "Labels", "Active since", "Value", ""].map((t) => h("th", { scope: "col", text: t })))),
      body,
    ),
  );
}

function notificationsTable(notifications) {
  if (!notifications.length) {
    return h("p", { class: "muted empty", text: "The local receiver has not been notified yet (Alertmanager sends a firing alert's group after its group wait)." });
  }
  const body = h("tbody");
  for (const n of notifications) {
    body.append(
      h(
        "tr",
        { "data-receiver": n.receiver, "data-status": n.status },
        h("td", {}, when(n.receivedMs)),
        h("td", { text: n.receiver }),
        h("td", {}, h("span", { class: `badge ${n.status}` }, n.status)),
        h(
          "td",
          {},
          n.alerts.map((a) =>
            h("div", { class: "notified-alert" }, h("strong", { text: a.name }), " ", h("span", { class: `badge ${a.status}` }, a.status), " ", labelChips(a.labels, ["alertname"])),
          ),
        ),
      ),
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data-table notifications-table" },
      h("caption", { class: "visually-hidden", text: "Notifications the local receiver kept, newest first" }),
      h("thead", {}, h("tr", {}, ["Received", "Receiver", "Status", "Alerts"].map((t) => h("th", { scope: "col", text: t })))),
      body,
    ),
  );
}

async function mountList(root) {
  document.title = "Alerts · airscope console";
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const content = h("div", { class: "alerting-content" });
  const refresh = h("button", { type: "button", class: "btn", onclick: () => load() }, "Refresh");
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Alerting" }), refresh),
    tabs("/alerting/list"),
    content,
    status,
  );
  let timer = null;
  let alive = true;
  let shown = null;
  async function load() {
    let body;
    try {
      body = await api("/api/alerts");
    } catch (err) {
      if (!alive) return;
      shown = null;
      content.replaceChildren(errorBox([`The alerts could not be read: ${err.message}`]));
      root.dataset.state = "error";
      return;
    }
    if (!alive) return;
    status.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000}s.`;
    // Unchanged answers leave the tables alone, so a refresh never takes the keyboard focus away.
    const seen = JSON.stringify(body);
    if (seen === shown) return;
    shown = seen;
    const firing = body.alerts.filter((a) => a.state === "firing").length;
    const pending = body.alerts.length - firing;
    content.replaceChildren(
      ...[
        errorBox(body.errors),
        h(
          "section",
          { "aria-labelledby": "alerts-h" },
          h("h2", { id: "alerts-h" }, `Firing and pending (${firing} firing, ${pending} pending)`),
          alertsTable(body.alerts),
        ),
        h(
          "section",
          { "aria-labelledby": "notifications-h" },
          h("h2", { id: "notifications-h" }, "Notified to the local receiver"),
          h("p", { class: "muted", text: "What Alertmanager sent (each team's pager and chat receivers are webhooks to the local receiver), newest first; in production these are the team's PagerDuty service and Slack channel." }),
          notificationsTable(body.notifications),
        ),
      ].filter(Boolean),
    );
    root.dataset.state = body.errors.length ? "error" : body.alerts.length || body.notifications.length ? "data" : "empty";
  }
  await load();
  timer = setInterval(load, REFRESH_MS);
  return () => {
    alive = false;
    clearInterval(timer);
  };
}

// ---- silences ----

let fieldCount = 0;

function matcherRow(list, initial = {}) {
  const id = `m${++fieldCount}`;
  const name = h("input", { id: `${id}-name`, name: "name", autocomplete: "off", spellcheck: "false", placeholder: "alertname" });
  const op = h("select", { id: `${id}-op`, name: "op" }, OPERATORS.map((o) => h("option", { value: o, text: o })));
  const value = h("input", { id: `${id}-value`, name: "value", autocomplete: "off", spellcheck: "false", placeholder: "HighErrorRate" });
  name.value = initial.name || "";
  op.value = initial.op || "=";
  value.value = initial.value || "";
  const row = h(
    "div",
    { class: "matcher" },
    h("div", {}, h("label", { for: name.id, text: "Label" }), name),
    h("div", {}, h("label", { for: op.id, text: "Operator" }), op),
    h("div", {}, h("label", { for: value.id, text: "Value" }), value),
  );
  const remove = h("button", { type: "button", class: "btn", "aria-label": "Remove this matcher" }, "Remove");
  remove.addEventListener("click", () => {
    row.remove();
    const first = list.querySelector("input");
    if (first) first.focus();
  });
  row.append(remove);
  list.append(row);
  return row;
}

function readMatchers(list) {
  const matchers = [];
  for (const row of list.querySelectorAll(".matcher")) {
    const name = row.querySelector('[name="name"]').value.trim();
    const value = row.querySelector('[name="value"]').value;
    const op = row.querySelector('[name="op"]').value;
    if (!name && !value) continue; // an untouched row is no matcher
    matchers.push({ name, value, isRegex: op.includes("~"), isEqual: op[0] === "=" });
  }
  return matchers;
}

function matcherText(m) {
  return `${m.name}${m.isEqual ? "=" : "!"}${m.isRegex ? "~" : m.isEqual ? "" : "="}${m.value}`;
}

function silenceForm(query, onCreated) {
  const list = h("div", { class: "matchers" });
  const prefilled = query.getAll("matcher").map((t) => MATCHER_TEXT.exec(t)).filter(Boolean);
  if (prefilled.length) for (const [, name, op, value] of prefilled) matcherRow(list, { name, op, value });
  else matcherRow(list);
  const addButton = h("button", { type: "button", class: "btn", onclick: () => matcherRow(list).querySelector("input").focus() }, "Add matcher");

  const field = (id, labelText, input, hint) =>
    h("div", { class: "field" }, h("label", { for: id, text: labelText }), input, hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null);
  const duration = h("input", { id: "silence-duration", name: "duration", autocomplete: "off", "aria-describedby": "silence-duration-hint" });
  duration.value = query.get("duration") || "2h";
  const createdBy = h("input", { id: "silence-created-by", name: "createdBy", autocomplete: "off" });
  createdBy.value = query.get("createdBy") || "console";
  const comment = h("textarea", { id: "silence-comment", name: "comment", rows: "2" });
  comment.value = query.get("comment") || "";
  const key = h("input", { id: "silence-api-key", name: "apiKey", type: "password", autocomplete: "off", "aria-describedby": "silence-api-key-hint" });
  key.value = sessionStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => sessionStorage.setItem(KEY_STORE, key.value.trim()));

  const message = h("p", { class: "form-error", role: "alert", hidden: true });
  const ok = h("p", { class: "form-ok", role: "status", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create silence");
  const form = h(
    "form",
    { class: "silence-form", "aria-labelledby": "new-silence-h", novalidate: true },
    h("h2", { id: "new-silence-h", text: "New silence" }),
    h("fieldset", {}, h("legend", { text: "Matchers (alerts whose labels match every one are silenced)" }), list, addButton),
    h(
      "div",
      { class: "row" },
      field("silence-duration", "Duration", duration, "e.g. 30m, 2h, 1d"),
      field("silence-created-by", "Created by", createdBy),
      field("silence-api-key", "API key", key, "the local key (make up keeps it in $AIRSCOPE_HOME/api-key); kept for this tab only"),
    ),
    field("silence-comment", "Comment", comment, "why the alerts are muted"),
    message,
    ok,
    h("div", {}, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.hidden = true;
    ok.hidden = true;
    const apiKey = key.value.trim();
    sessionStorage.setItem(KEY_STORE, apiKey);
    const body = { matchers: readMatchers(list), duration: duration.value.trim(), comment: comment.value, createdBy: createdBy.value.trim() };
    // The plain omissions are told here without a request; everything else (label names, regexes,
    // the duration's grammar) the server checks, in one place, and answers with the same kind of message.
    const missing = !apiKey
      ? ['Creating a silence needs the local API key: type it into "API key".', key]
      : !body.matchers.length
        ? ["A silence needs at least one matcher (a label name and value, e.g. alertname = HighErrorRate).", list.querySelector("input")]
        : !body.comment.trim()
          ? ["A silence needs a comment: say why the alerts are muted.", comment]
          : null;
    if (missing) {
      message.textContent = missing[0];
      message.hidden = false;
      if (missing[1]) missing[1].focus();
      return;
    }
    submit.disabled = true;
    try {
      const answer = await api("/api/silences", { method: "POST", json: body, headers: apiKey ? { "X-API-Key": apiKey } : {} });
      ok.textContent = `Silence ${answer.silenceID} created: ${body.matchers.map(matcherText).join(", ")} for ${body.duration}.`;
      ok.hidden = false;
      form.dataset.created = answer.silenceID;
      onCreated(answer.silenceID);
    } catch (err) {
      message.textContent = err.status === 401 ? `${err.message}` : `The silence was not created: ${err.message}`;
      message.hidden = false;
      if (err.status === 401) key.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return { form, key, showError: (text) => ((message.textContent = text), (message.hidden = false)) };
}

function silencesTable(silences, onExpire, caption) {
  const body = h("tbody");
  for (const s of silences) {
    const canExpire = s.state === "active" || s.state === "pending";
    body.append(
      h(
        "tr",
        { "data-silence-id": s.id, "data-state": s.state },
        h("td", {}, h("span", { class: `badge ${s.state}` }, s.state)),
        h("td", {}, h("span", { class: "labels" }, s.matchers.map((m) => h("span", { class: "label", text: matcherText(m) })))),
        h("td", {}, when(s.startsMs)),
        h("td", {}, when(s.endsMs)),
        h("td", { text: s.createdBy }),
        h("td", { text: s.comment }),
        h("td", {}, canExpire ? h("button", { type: "button", class: "btn", "aria-label": `Expire silence ${s.matchers.map(matcherText).join(", ")}`, onclick: () => onExpire(s) }, "Expire") : null),
      ),
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data-table silences-table" },
      h("caption", { class: "visually-hidden", text: caption }),
      h("thead", {}, h("tr", {}, ["State", "Matchers", "Starts", "Ends", "Created by", "Comment", ""].map((t) => h("th", { scope: "col", text: t })))),
      body,
    ),
  );
}

async function mountSilences(root, query) {
  document.title = "Silences · airscope console";
  const listBox = h("section", { "aria-labelledby": "silences-h", class: "silences" });
  const notice = h("p", { role: "status", class: "muted", "aria-live": "polite" });
  const { form, key, showError } = silenceForm(query, () => load());
  root.append(h("div", { class: "toolbar" }, h("h1", { text: "Alerting" })), tabs("/alerting/silences"), form, notice, listBox);
  let alive = true;

  async function expire(silence) {
    const apiKey = key.value.trim();
    if (!apiKey) {
      showError('Expiring a silence needs the local API key: type it into "API key" above.');
      key.focus();
      return;
    }
    try {
      await api(`/api/silences/${encodeURIComponent(silence.id)}`, { method: "DELETE", headers: { "X-API-Key": apiKey } });
      notice.textContent = `Silence ${silence.id} expired.`;
    } catch (err) {
      showError(`The silence was not expired: ${err.message}`);
      return;
    }
    await load();
  }

  async function load() {
    let body;
    try {
      body = await api("/api/silences");
    } catch (err) {
      if (!alive) return;
      listBox.replaceChildren(h("h2", { id: "silences-h", text: "Silences" }), errorBox([`The silences could not be listed: ${err.message}`]));
      root.dataset.state = "error";
      return;
    }
    if (!alive) return;
    const current = body.silences.filter((s) => s.state !== "expired");
    const expired = body.silences.filter((s) => s.state === "expired");
    listBox.replaceChildren(
      ...[
        h("h2", { id: "silences-h" }, `Silences (${current.length} active or pending)`),
        current.length ? silencesTable(current, expire, "Active and pending silences") : h("p", { class: "muted empty", text: "No active silence: every alert reaches the receivers." }),
        expired.length
          ? h("details", { class: "expired-silences" }, h("summary", {}, `Expired (${expired.length})`), silencesTable(expired, expire, "Expired silences"))
          : null,
      ].filter(Boolean),
    );
    root.dataset.state = body.silences.length ? "data" : "empty";
  }
  await load();
  return () => {
    alive = false;
  };
}

export async function mount(el, params, query) {
  injectStyle();
  const silences = params.path.replace(/\/$/, "") === "/alerting/silences";
  const root = h("div", { class: "alerting", "data-page": silences ? "alerting-silences" : "alerting-list" });
  el.append(root);
  return silences ? mountSilences(root, query) : mountList(root);
}
