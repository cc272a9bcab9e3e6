"""frontend (port 5173): the web UI, a same-origin proxy of /api/* to the api-gateway, and real-user
monitoring (Grafana's Faro Web SDK in the page: errors, Core Web Vitals, timings and the browser's
spans, posted to /faro/collect)."""

from airscope.services.frontend.app import create_app

__all__ = ["create_app"]
