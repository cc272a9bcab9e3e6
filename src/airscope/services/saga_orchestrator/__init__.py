"""saga-orchestrator (port 7008): multi-service workflows as sagas, undone step by step when one fails."""

from airscope.services.saga_orchestrator.app import create_app

__all__ = ["create_app"]
