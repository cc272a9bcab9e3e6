"""Which database errors are an outage (503 postgres_unavailable) rather than a bug (500)."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc

from airscope.services.platform_services.db import is_outage


def _wrapped_as_sqlalchemy_does(cause: BaseException) -> exc.DBAPIError:
    # SQLAlchemy's asyncpg adapter raises its own DBAPI error from asyncpg's, then wraps that in a
    # DBAPIError whose class depends on the adapter's error class, not on asyncpg's.
    adapted = RuntimeError(str(cause))
    adapted.__cause__ = cause
    wrapped = exc.DBAPIError("SELECT 1", None, adapted)
    wrapped.__cause__ = adapted
    return wrapped


def test_a_server_shutting_down_or_starting_up_is_an_outage():
    for message in ("the database system is shutting down", "the database system is starting up"):
        assert is_outage(_wrapped_as_sqlalchemy_does(asyncpg.exceptions.CannotConnectNowError(message)))


def test_a_refused_connection_is_an_outage():
    assert is_outage(_wrapped_as_sqlalchemy_does(ConnectionRefusedError(111, "Connection refused")))


def test_a_broken_query_is_not_an_outage():
    assert not is_outage(_wrapped_as_sqlalchemy_does(asyncpg.exceptions.UndefinedTableError("no table")))
    assert not is_outage(ValueError("a bug"))
