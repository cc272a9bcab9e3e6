"""sample-service: the service docs/adding-a-service.md builds, step by step; tests add it to a catalog."""

from tests.gen.sample_service.app import create_app

__all__ = ["create_app"]
