/* The airscope UI: sign in, chat with the base, import a CSV, see the platform's status.
 *
 * Every API call goes to this page's own origin under /api (the frontend forwards it to the
 * api-gateway). Faro's tracing instrumentation (monitoring.js) gives each call a span and its W3C
 * traceparent, so the backend's trace of a call starts here and its trace id is known to the page
 * (shown under each chat answer, sent with the monitoring's items). A click's calls run inside the
 * click's own span (rum.action): the click and everything it asked the backend are one trace.
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

  var noAction = { run: function (send) { return send(); }, end: function () {} };
  var rum = window.airscopeRum || {
    view: function () {}, action: function () { return noAction; }, failedCall: function () {},
    slowCall: function () {}, firstChatAnswer: function () {},
  };
  var state = { view: null, chatSession: null, chatAnswered: false, statusTimer: null, uploadTimer: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text; // text only: nothing from an answer becomes markup
    return node;
  }

  function ApiError(status, code, message, traceId) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.traceId = traceId;
  }

  /* One API call. Resolves {data, traceId}; rejects with an ApiError carrying the server's message.
   * options.answers: statuses >= 400 that are answers to show rather than failures (health's 503).
   * options.action: the user's action (rum.action) the call belongs to: its span is the call's parent. */
  function api(method, path, body, options) {
    options = options || {};
    var headers = new Headers({ Accept: "application/json" });
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", "Bearer " + token);
    if (body != null && !(body instanceof FormData)) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(body);
    }
    var init = { method: method, headers: headers, body: body };
    var started = performance.now();
    var sent = (options.action || noAction).run(function () { return fetch(path, init); });
    // The tracing instrumentation put the call's traceparent on the request's headers while fetch() ran.
    var traceparent = new Headers(init.headers).get("traceparent") || "";
    var traceId = traceparent.split("-")[1] || "";
    return sent.then(
      function (response) {
        traceId = traceId || response.headers.get("X-Trace-Id") || ""; // without the monitoring: the server's
        var seconds = (performance.now() - started) / 1000;
        if (seconds * 1000 >= SLOW_CALL_MS) rum.slowCall(method + " " + path, response.status, seconds, traceparent);
        var expected = (options.answers || []).indexOf(response.status) >= 0;
        if (response.status >= 500 && !expected) {
          rum.failedCall(method + " " + path, response.status, "HTTP " + response.status, traceparent);
        }
        var json = (response.headers.get("Content-Type") || "").indexOf("json") >= 0;
        return (json ? response.json() : response.text()).then(function (data) {
          if (response.ok || expected) {
            return { data: data, status: response.status, traceId: traceId, traceparent: traceparent };
          }
          if (response.status === 401 && token) signOut("Your session has ended. Please sign in again.");
          var message = (data && data.message) || "The request failed (HTTP " + response.status + ").";
          throw new ApiError(response.status, data && data.error, message, traceId);
        });
      },
      function (networkError) {
        rum.failedCall(method + " " + path, 0, "network error: " + networkError.message, traceparent);
        throw new ApiError(0, "network", "The server could not be reached. Check your connection.", traceId);
      }
    );
  }

  /* Runs work(action) as the user's action called name; the action ends when work's promise settles. */
  function asAction(name, work) {
    var action = rum.action(name);
    return work(action).then(
      function (result) { action.end(); return result; },
      function (failure) { action.end(failure); throw failure; }
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

  function logIn(action) {
    var creds = credentials();
    return api("POST", "/api/auth/login", creds, { action: action }).then(function (answer) {
      sessionStorage.setItem(TOKEN_KEY, answer.data.access_token);
      sessionStorage.setItem(EMAIL_KEY, creds.email);
      $("signin-password").value = "";
      say("signin-message", "");
      renderAccount();
      show("chat");
    });
  }

  function register(action) {
    var body = credentials();
    var name = $("signin-name").value.trim();
    if (name) body.display_name = name;
    return api("POST", "/api/auth/register", body, { action: action }).then(function () { return logIn(action); });
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EMAIL_KEY);
    state.chatSession = null;
    renderAccount();
    show("signin");
    say("signin-message", message || "");
  }

  function withButton(button, name, work, messageId) {
    if (!$("signin-form").reportValidity()) return;
    busy(button, true);
    say(messageId, "");
    asAction(name, work)
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
    asAction("send chat message", function (action) {
      return api("POST", "/api/chat", body, { action: action });
    })
      .then(function (answer) {
        state.chatSession = answer.data.session_id || state.chatSession;
        renderAnswer(pending, answer.data, answer.traceId);
        if (!state.chatAnswered) {
          state.chatAnswered = true;
          // Measured once the answer is painted: what the user waited for.
          requestAnimationFrame(function () {
            rum.firstChatAnswer((performance.now() - started) / 1000, answer.traceparent);
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
    var action;
    asAction("upload file", function (uploadAction) {
      action = uploadAction;
      return api("POST", "/api/automation/files", form, { action: action });
    })
      .then(function (answer) {
        renderUpload(answer.data);
        pollUpload(answer.data.id, action);
      })
      .catch(function (error) { say("upload-message", error.message); })
      .then(function () { busy(button, false); });
  }

  /* The upload's progress, asked within the upload's trace (action): what the one click caused. */
  function pollUpload(id, action) {
    state.uploadTimer = setTimeout(function () {
      api("GET", "/api/automation/files/" + encodeURIComponent(id), null, { action: action })
        .then(function (answer) {
          renderUpload(answer.data);
          if (FINISHED_UPLOAD.indexOf(answer.data.status) < 0) pollUpload(id, action);
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
    withButton($("signin-submit"), "sign in", logIn, "signin-message");
  });
  $("register-submit").addEventListener("click", function () {
    withButton($("register-submit"), "create account", register, "signin-message");
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
    // Deliberately uncaught: it must reach the monitoring's error listener like a real bug.
    throw new Error("test error thrown on the " + state.view + " view");
  });
  window.addEventListener("hashchange", function () { show(location.hash.slice(1)); });

  renderAccount();
  show(location.hash.slice(1));
})();
