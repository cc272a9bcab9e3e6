"""platform-services (port 7007): accounts and tokens, activity analytics, workspaces (PostgreSQL)."""

from airscope.services.platform_services.app import create_app

__all__ = ["create_app"]
