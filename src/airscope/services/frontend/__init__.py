"""frontend (port 5173): the web UI, a same-origin proxy of /api/* to the api-gateway, and real-user
monitoring (the page's errors, Core Web Vitals and timings, posted to /rum)."""

from airscope.services.frontend.app import create_app

__all__ = ["create_app"]
