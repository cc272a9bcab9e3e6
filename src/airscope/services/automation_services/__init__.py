"""automation-services (port 7006): file imports into Airtable and workflows, run by a Redis job queue."""

from airscope.services.automation_services.app import create_app

__all__ = ["create_app"]
