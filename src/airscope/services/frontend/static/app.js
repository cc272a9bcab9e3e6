/* The airscope UI: sign in, chat with the base, import a CSV, see the platform's status.
 *
 * Every API call goes to this page's own origin under /api (the frontend forwards it to the
 * api-gateway) with a fresh W3C traceparent, so the backend's trace of a call starts here and
 * its trace id is known to the page (shown under each chat answer, sent with RUM events).
 */
(function () {
  "use strict";

  var BASE_ID = "appAirscopeDemo01";
  var VIEWS = ["signin", "chat", "upload", "status"];
  var PUBLIC_VIEWS = ["signin", "status"];
  var SLOW_CALL_MS = 2000;
  var STATUS_REFRESH_MS = 5000;
  var UPLOAD_POLL_MS = 1000;
  var FINISHED_UPLOAD = ["completed", "partial", "failed"];
  var TOKEN_KEY = "airscope.accessToken";
  var EMAIL_KEY = "airscope.email";

  var rum = window.airscopeRum || {
    view: function () {}, failedCall: function () {}, slowCall: function () {}, firstChatAnswer: function () {},
  };
  var state = { view: null, chatSession: null, chatAnswered: false, statusTimer: null, uploadTimer: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text; // text only: nothing from an answer becomes markup
    return node;
  }

  function hex(bytes) {
    var values = new Uint8Array(bytes);
    crypto.getRandomValues(values);
    return Array.from(values, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  /* W3C trace context: version 00, a random 16-byte trace id, an 8-byte parent id, sampled. */
  function newTraceContext() {
    var traceId = hex(16);
    var spanId = hex(8);
    // All-zero ids are invalid (a chance of 2^-128, but then the trace would be lost).
    if (/^0+$/.test(traceId)) traceId = "1" + traceId.slice(1);
    if (/^0+$/.test(spanId)) spanId = "1" + spanId.slice(1);
    return { traceId: traceId, header: "00-" + traceId + "-" + spanId + "-01" };
  }

  function ApiError(status, code, message, traceId) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.traceId = traceId;
  }

  /* One API call. Resolves {data, traceId}; rejects with an ApiError carrying the server's message.
   * options.answers: statuses >= 400 that are answers to show rather than failures (health's 503). */
  function api(method, path, body, options) {
    options = options || {};
    var trace = newTraceContext();
    var headers = { traceparent: trace.header, Accept: "application/json" };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    if (body != null && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    var started = performance.now();
    return fetch(path, { method: method, headers: headers, body: body }).then(
      function (response) {
        var seconds = (performance.now() - started) / 1000;
        if (seconds * 1000 >= SLOW_CALL_MS) rum.slowCall(method + " " + path, response.status, seconds, trace.traceId);
        var expected = (options.answers || []).indexOf(response.status) >= 0;
        if (response.status >= 500 && !expected) {
          rum.failedCall(method + " " + path, response.status, "HTTP " + response.status, trace.traceId);
        }
        var json = (response.headers.get("Content-Type") || "").indexOf("json") >= 0;
        return (json ? response.json() : response.text()).then(function (data) {
          if (response.ok || expected) return { data: data, status: response.status, traceId: trace.traceId };
          if (response.status === 401 && token) signOut("Your session has ended. Please sign in again.");
          var message = (data && data.message) || "The request failed (HTTP " + response.status + ").";
          throw new ApiError(response.status, data && data.error, message, trace.traceId);
        });
      },
      function (networkError) {
        rum.failedCall(method + " " + path, 0, "network error: " + networkError.message, trace.traceId);
        throw new ApiError(0, "network", "The server could not be reached. Check your connection.", trace.traceId);
      }
    );
  }

  function say(id, text, ok) {
    var node = $(id);
    node.textContent = text || "";
    node.classList.toggle("ok", !!ok);
  }

  function busy(button, isBusy) { button.disabled = isBusy; }

  /* --- views ------------------------------------------------------------------------------- */

  function show(view) {
    if (VIEWS.indexOf(view) < 0) view = sessionStorage.getItem(TOKEN_KEY) ? "chat" : "signin";
    if (PUBLIC_VIEWS.indexOf(view) < 0 && !sessionStorage.getItem(TOKEN_KEY)) view = "signin";
    if (view === state.view) return;
    if (state.view === "status") stopStatus();
    state.view = view;
    VIEWS.forEach(function (name) { $("view-" + name).hidden = name !== view; });
    document.querySelectorAll("nav a").forEach(function (link) {
      link.classList.toggle("active", link.dataset.view === view);
    });
    if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
    rum.view(view);
    if (view === "status") startStatus();
    if (view === "chat") $("chat-input").focus();
  }

  function renderAccount() {
    var email = sessionStorage.getItem(EMAIL_KEY);
    var signedIn = !!sessionStorage.getItem(TOKEN_KEY);
    $("signed-in-as").textContent = signedIn && email ? email : "";
    $("sign-out").hidden = !signedIn;
  }

  /* --- sign in ----------------------------------------------------------------------------- */

  function credentials() {
    return { email: $("signin-email").value.trim(), password: $("signin-password").value };
  }

  function logIn() {
    var creds = credentials();
    return api("POST", "/api/auth/login", creds).then(function (answer) {
      sessionStorage.setItem(TOKEN_KEY, answer.data.access_token);
      sessionStorage.setItem(EMAIL_KEY, creds.email);
      $("signin-password").value = "";
      say("signin-message", "");
      renderAccount();
      show("chat");
    });
  }

  function register() {
    var body = credentials();
    var name = $("signin-name").value.trim();
    if (name) body.display_name = name;
    return api("POST", "/api/auth/register", body).then(logIn);
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EMAIL_KEY);
    state.chatSession = null;
    renderAccount();
    show("signin");
    say("signin-message", message || "");
  }

  function withButton(button, action, messageId) {
    if (!$("signin-form").reportValidity()) return;
    busy(button, true);
    say(messageId, "");
    action()
      .catch(function (error) { say(messageId, error.message); })
      .then(function () { busy(button, false); });
  }

  /* --- chat -------------------------------------------------------------------------------- */

  function addMessage(role, text) {
    var item = el("li", role, text);
    $("chat-log").appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function renderAnswer(item, answer, traceId) {
    item.textContent = answer.answer;
    var meta = el("div", "meta");
    (answer.tool_calls || []).forEach(function (call) {
      meta.appendChild(el("span", call.ok ? "tool" : "tool failed", call.tool + (call.ok ? " ✓" : " ✗")));
    });
    var trace = el("span", "trace", "trace " + traceId);
    trace.dataset.traceId = traceId;
    meta.appendChild(trace);
    item.appendChild(meta);
  }

  function sendChat(event) {
    event.preventDefault();
    var input = $("chat-input");
    var message = input.value.trim();
    if (!message) return;
    input.value = "";
    addMessage("user", message);
    var pending = addMessage("assistant", "…");
    var button = $("chat-send");
    busy(button, true);
    var started = performance.now();
    var body = { message: message };
    if (state.chatSession) body.session_id = state.chatSession;
    api("POST", "/api/chat", body)
      .then(function (answer) {
        state.chatSession = answer.data.session_id || state.chatSession;
        renderAnswer(pending, answer.data, answer.traceId);
        if (!state.chatAnswered) {
          state.chatAnswered = true;
          // Measured once the answer is painted: what the user waited for.
          requestAnimationFrame(function () {
            rum.firstChatAnswer((performance.now() - started) / 1000, answer.traceId);
          });
        }
      })
      .catch(function (error) {
        pending.textContent = error.message;
        pending.classList.add("failed");
      })
      .then(function () { busy(button, false); });
  }

  /* --- upload ------------------------------------------------------------------------------ */

  function upload(event) {
    event.preventDefault();
    var file = $("upload-file").files[0];
    if (!file) return;
    var form = new FormData();
    form.append("file", file);
    form.append("base_id", BASE_ID);
    form.append("table", $("upload-table").value);
    var button = $("upload-submit");
    busy(button, true);
    say("upload-message", "");
    clearTimeout(state.uploadTimer);
    api("POST", "/api/automation/files", form)
      .then(function (answer) {
        renderUpload(answer.data);
        pollUpload(answer.data.id);
      })
      .catch(function (error) { say("upload-message", error.message); })
      .then(function () { busy(button, false); });
  }

  function pollUpload(id) {
    state.uploadTimer = setTimeout(function () {
      api("GET", "/api/automation/files/" + encodeURIComponent(id))
        .then(function (answer) {
          renderUpload(answer.data);
          if (FINISHED_UPLOAD.indexOf(answer.data.status) < 0) pollUpload(id);
        })
        .catch(function (error) { say("upload-message", error.message); });
    }, UPLOAD_POLL_MS);
  }

  function renderUpload(file) {
    $("upload-progress").hidden = false;
    $("upload-name").textContent = file.filename + " → " + file.table;
    var status = $("upload-status");
    status.textContent = file.status;
    status.className = "badge " + file.status;
    var total = file.rows_total || 0;
    var done = (file.rows_imported || 0) + (file.rows_failed || 0);
    $("upload-bar").max = Math.max(total, 1);
    $("upload-bar").value = FINISHED_UPLOAD.indexOf(file.status) >= 0 && !total ? 1 : done;
    $("upload-counts").textContent = total
      ? (file.rows_imported || 0) + " of " + total + " rows imported, " + (file.rows_failed || 0) + " failed"
      : "";
    var errors = file.errors || [];
    var table = $("upload-errors");
    var rows = table.querySelector("tbody");
    rows.replaceChildren();
    errors.forEach(function (problem) {
      var row = el("tr");
      row.appendChild(el("td", null, String(problem.row)));
      row.appendChild(el("td", null, problem.message));
      rows.appendChild(row);
    });
    table.hidden = errors.length === 0;
    if (file.status === "completed") say("upload-message", "Import complete.", true);
  }

  /* --- status ------------------------------------------------------------------------------ */

  function refreshStatus() {
    api("GET", "/api/health", null, { answers: [503] })
      .then(function (answer) {
        renderStatus(answer.data);
        say("status-message", "");
      })
      .catch(function (error) { say("status-message", error.message); })
      .then(function () {
        if (state.view === "status") state.statusTimer = setTimeout(refreshStatus, STATUS_REFRESH_MS);
      });
  }

  function startStatus() { refreshStatus(); }

  function stopStatus() {
    clearTimeout(state.statusTimer);
    state.statusTimer = null;
  }

  function renderStatus(document_) {
    var overall = $("status-overall");
    overall.textContent = document_.status;
    overall.className = "badge " + document_.status;
    var rows = $("status-table").querySelector("tbody");
    rows.replaceChildren();
    Object.keys(document_.checks || {}).sort().forEach(function (key) {
      var entry = document_.checks[key][0] || {};
      var row = el("tr");
      row.appendChild(el("td", null, key.replace(/:health$/, "")));
      var cell = el("td");
      cell.appendChild(el("span", "badge " + entry.status, entry.status));
      row.appendChild(cell);
      row.appendChild(el("td", null, entry.observedValue != null ? Math.round(entry.observedValue) + " ms" : "—"));
      row.appendChild(el("td", null, entry.output || ""));
      rows.appendChild(row);
    });
    $("status-updated").textContent = "Last update " + new Date().toLocaleTimeString() + ".";
  }

  /* --- wiring ------------------------------------------------------------------------------ */

  $("signin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    withButton($("signin-submit"), logIn, "signin-message");
  });
  $("register-submit").addEventListener("click", function () {
    withButton($("register-submit"), register, "signin-message");
  });
  $("sign-out").addEventListener("click", function () { signOut("You are signed out."); });
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault(); // Enter sends, Shift+Enter starts a new line
      $("chat-form").requestSubmit();
    }
  });
  $("upload-form").addEventListener("submit", upload);
  $("throw-error").addEventListener("click", function () {
    // Deliberately uncaught: it must reach window.onerror and the RUM endpoint like a real bug.
    throw new Error("test error thrown on the " + state.view + " view");
  });
  window.addEventListener("hashchange", function () { show(location.hash.slice(1)); });

  renderAccount();
  show(location.hash.slice(1));
})();
