"""airtable-gateway (port 7002): Airtable's REST API for the platform, rate-limited, cached and observed."""

from airscope.services.airtable_gateway.app import create_app

__all__ = ["create_app"]
