/* Real-user monitoring: what this page experiences, batched and posted to /rum.
 *
 * Uncaught errors, unhandled promise rejections, failed API calls, Core Web Vitals (Google's
 * web-vitals library), page views per view, slow API calls and the time to the first chat
 * answer. Events carry the view they happened on; an API call's events carry the trace id of the
 * traceparent it was sent with, so a slow or failed call leads to its backend trace.
 *
 * Sent every few seconds, and when the page is hidden or left (navigator.sendBeacon survives
 * the unload; fetch with keepalive when the browser refuses the beacon).
 */
(function () {
  "use strict";

  var ENDPOINT = "/rum";
  var FLUSH_EVERY_MS = 5000;
  var EVENTS_PER_BEACON = 50; // far below the server's 64 KiB with texts cut to MAX_TEXT
  var MAX_TEXT = 500;
  var MAX_ERRORS_PER_LOAD = 50; // an error in a loop must not flood the endpoint

  var queue = [];
  var errorsReported = 0;
  var page = "other";
  var session = randomHex(8);

  function randomHex(bytes) {
    var values = new Uint8Array(bytes);
    crypto.getRandomValues(values);
    return Array.from(values, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function cut(value) {
    var text = String(value == null ? "" : value);
    return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  }

  function push(event) {
    event.page = page;
    queue.push(event);
    if (queue.length >= EVENTS_PER_BEACON) flush();
  }

  function send(events) {
    var body = JSON.stringify({ session: session, events: events });
    var queued = false;
    try {
      queued = typeof navigator.sendBeacon === "function" && navigator.sendBeacon(ENDPOINT, body);
    } catch (e) {
      queued = false;
    }
    if (!queued) {
      fetch(ENDPOINT, {
        method: "POST",
        body: body,
        keepalive: true,
        headers: { "Content-Type": "application/json" },
      }).catch(function () { /* monitoring must never break the page */ });
    }
  }

  function flush() {
    while (queue.length) send(queue.splice(0, EVENTS_PER_BEACON));
  }

  function error(kind, message, source, extra) {
    if (errorsReported >= MAX_ERRORS_PER_LOAD) return;
    errorsReported += 1;
    var event = { type: "js_error", kind: kind, message: cut(message), source: cut(source) };
    if (extra) {
      if (typeof extra.status === "number") event.status = extra.status;
      if (extra.traceId) event.trace_id = extra.traceId;
    }
    push(event);
  }

  window.onerror = function (message, source, line, column, err) {
    var text = err && err.message ? err.name + ": " + err.message : message;
    error("error", text, (source || "") + ":" + (line || 0) + ":" + (column || 0));
    return false; // still shown in the console
  };

  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    var text = reason && reason.message ? (reason.name || "Error") + ": " + reason.message : reason;
    error("unhandledrejection", text, "");
  });

  if (window.webVitals) {
    var report = function (metric) {
      push({ type: "web_vital", name: metric.name, value: Math.max(0, metric.value), rating: metric.rating });
    };
    ["onLCP", "onCLS", "onINP", "onFCP", "onTTFB"].forEach(function (name) { window.webVitals[name](report); });
  }

  // web-vitals reports LCP, CLS and INP from its own listeners of the same events, which run
  // after this one: the second flush sends what they added.
  function leaving() {
    flush();
    setTimeout(flush, 0);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leaving();
  });
  window.addEventListener("pagehide", leaving);
  setInterval(flush, FLUSH_EVERY_MS);

  window.airscopeRum = {
    /* The view now shown: counted as a page view, and the page of the events that follow. */
    view: function (name) {
      page = name;
      push({ type: "page_view" });
    },
    /* An API call that failed: no answer (status 0) or a 5xx. */
    failedCall: function (path, status, message, traceId) {
      error("fetch", message, path, { status: status, traceId: traceId });
    },
    slowCall: function (path, status, seconds, traceId) {
      push({ type: "slow_call", path: cut(path), status: status, seconds: seconds, trace_id: traceId });
    },
    firstChatAnswer: function (seconds, traceId) {
      push({ type: "chat_answer", seconds: seconds, trace_id: traceId });
    },
    flush: flush,
  };
})();
