"""api-gateway (port 7000): authentication, per-client rate limits and routing to the platform's services."""

from airscope.services.api_gateway.app import create_app

__all__ = ["create_app"]
