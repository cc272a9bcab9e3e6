"""``airscope check --live``: the dashboards against a running platform. Every Prometheus query of
every generated panel returns data, and the numbers with a ground truth match it.

The ground truth is what `airscope load` sent (its own counts per method, route and status, and
its own latencies). Prometheus' counters, read just before and well after the load, must count
exactly the same requests; its p95 per route must fall in the client's bucket or the next one
(a histogram knows a latency only to its bucket, and the server's time excludes the network).
The domain counters (chats, tokens, tool calls, logins, imports, sagas) must count what the load's
answers prove the platform did.

One job per module:

- ``panels``: every Prometheus query of the generated dashboards, and those that return nothing;
- ``gateway``: the gateway's request counts and p95s against the client's;
- ``domain``: the domain counters against what the load's answers prove (``domain_truths``);
- ``check``: one run: wait for fresh scrapes, load, settle, check (``LiveReport``).

It lives in ``local``, not in the static ``stack`` checks: it needs a running platform and drives
``airscope load``.
"""

from airscope.local.live_check.check import LiveReport, run

__all__ = ["LiveReport", "run"]
