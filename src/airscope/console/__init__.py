"""The local console: the platform's dashboards, logs, traces and alerts in a browser, at
http://127.0.0.1:3000 after ``make up``, rendering the very dashboard JSON production Grafana loads
(``deploy/grafana/dashboards/``) against the local Prometheus, log files and span files.

Grafana stays the production UI; the console follows its URL shapes (``/d/<uid>``, ``/explore``,
``/alerting/list``, ``/alerting/silences``) so a link opens the same view in either with only the
host changed. The server (``app.py`` and the ``api_*`` routers) does the querying: template variables,
``$__rate_interval`` and the LogQL/TraceQL subset are resolved here, in Python, where they are unit
tested; the browser code under ``static/`` only draws what comes back.
"""
