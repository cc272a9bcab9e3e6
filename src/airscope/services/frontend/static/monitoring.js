/* Real-user monitoring with Grafana's Faro Web SDK (vendored in /static/vendor/, see vendor.py).
 *
 * Faro sends what this page experiences to its own origin, POST /faro/collect: Core Web Vitals,
 * uncaught errors and unhandled promise rejections with their stack traces, the session, the view
 * shown (page views), and the browser's own spans (the tracing instrumentation), batched. The
 * frontend turns them into its rum_* metrics and log lines and, in production, forwards them to
 * Alloy's faro.receiver (Loki, Tempo).
 *
 * Every fetch to this origin carries a W3C traceparent from the tracing instrumentation; a click run
 * through action() is a span that is the parent of the API calls it makes, so the click and the
 * backend's work form one trace.
 *
 * Loaded after the two Faro bundles and before app.js, so that it sees app.js's own errors. Monitoring
 * never breaks the page: without Faro (a script that failed to load) every function below still
 * exists and does nothing.
 */
(function () {
  "use strict";

  var COLLECT = "/faro/collect";
  var APP = "frontend-browser"; // the service its spans are named by, locally and in Tempo
  var MAX_ERRORS_PER_LOAD = 50; // an error in a loop must not flood the endpoint
  var MAX_TEXT = 500;

  var sdk = window.GrafanaFaroWebSdk;
  var tracing = window.GrafanaFaroWebTracing;
  var faro = null;
  var errorsReported = 0;

  function cut(value) {
    var text = String(value == null ? "" : value);
    return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /* The view an item was captured on, written into the item itself: a batch carries only its first
   * item's meta, and a batch can span a switch between views. */
  function stampView(item) {
    var view = item.meta && item.meta.view && item.meta.view.name;
    var payload = item.payload;
    if (!view || !payload || item.type === "trace") return item;
    if (item.type === "event") payload.attributes = Object.assign({}, payload.attributes, { page: view });
    else payload.context = Object.assign({}, payload.context, { page: view });
    return item;
  }

  if (sdk && tracing) {
    try {
      var version = document.querySelector('meta[name="airscope-version"]');
      faro = sdk.initializeFaro({
        url: COLLECT,
        app: { name: APP, version: version ? version.content : "unknown" },
        sessionTracking: { enabled: true, persistent: false },
        beforeSend: stampView,
        // Listed rather than getWebInstrumentations(): errors are caught below (each with its kind),
        // console capture would ship whatever a library logs, and the performance and user-action
        // instrumentations add an event per resource and per click that no metric of ours reads.
        instrumentations: [
          new sdk.SessionInstrumentation(),
          new sdk.ViewInstrumentation(),
          new sdk.WebVitalsInstrumentation(),
          new sdk.CSPInstrumentation(),
          new tracing.TracingInstrumentation({
            instrumentationOptions: {
              // Same-origin calls carry traceparent anyway; said explicitly, and no other origin.
              propagateTraceHeaderCorsUrls: [new RegExp("^" + escapeRegExp(location.origin) + "/")],
            },
          }),
        ],
      });
    } catch (e) {
      faro = null; // monitoring must never break the page
    }
  }

  function otel() {
    return faro && faro.api.getOTEL ? faro.api.getOTEL() : undefined;
  }

  /* A traceparent header as the span context Faro attaches to an item. */
  function spanContext(traceparent) {
    var parts = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(traceparent || "");
    return parts ? { traceId: parts[1], spanId: parts[2] } : undefined;
  }

  function error(kind, err, context, traceparent) {
    if (!faro || errorsReported >= MAX_ERRORS_PER_LOAD) return;
    errorsReported += 1;
    var value = err instanceof Error ? err : new Error(cut(err));
    faro.api.pushError(value, {
      context: Object.assign({ kind: kind }, context || {}),
      spanContext: spanContext(traceparent),
      skipDedupe: true, // every error counts (as rum_js_errors_total did before Faro); bounded above
    });
  }

  window.addEventListener("error", function (event) {
    // A resource that failed to load fires "error" too, without an error or a message.
    if (!event.error && !event.message) return;
    error("error", event.error || event.message, {
      source: cut((event.filename || "") + ":" + (event.lineno || 0) + ":" + (event.colno || 0)),
    });
  });

  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    // Not always an Error: app.js's ApiError is a plain object with a message.
    error("unhandledrejection", reason instanceof Error ? reason : cut(reason && reason.message ? reason.message : reason));
  });

  var noAction = {
    run: function (send) { return send(); },
    end: function () {},
  };

  window.airscopeRum = {
    /* The view now shown: Faro's view_changed event counts it, and the later items carry it. */
    view: function (name) {
      if (faro) faro.api.setView({ name: name });
    },
    /* A user's action (a click, a submitted form): a span whose children are the API calls made
     * inside run(). end() when the action is over, with the error that ended it if one did. */
    action: function (name) {
      var api = otel();
      if (!api) return noAction;
      var span = api.trace.getTracer(APP).startSpan(name);
      var context = api.trace.setSpan(api.context.active(), span);
      return {
        run: function (send) { return api.context.with(context, send); },
        end: function (failure) {
          if (failure) span.setStatus({ code: 2, message: cut(failure.message || failure) });
          span.end();
        },
      };
    },
    /* An API call that failed: no answer (status 0) or a 5xx. */
    failedCall: function (path, status, message, traceparent) {
      error("fetch", cut(message), { path: cut(path), status: String(status) }, traceparent);
    },
    slowCall: function (path, status, seconds, traceparent) {
      if (!faro) return;
      faro.api.pushEvent(
        "slow_api_call",
        { path: cut(path), status: String(status), seconds: String(seconds) },
        undefined,
        { spanContext: spanContext(traceparent) }
      );
    },
    firstChatAnswer: function (seconds, traceparent) {
      if (!faro) return;
      faro.api.pushMeasurement(
        { type: "first_chat_answer", values: { seconds: seconds } },
        { spanContext: spanContext(traceparent) }
      );
    },
  };
})();
