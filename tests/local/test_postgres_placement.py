"""A checkout the postgres user cannot enter (a clone under /root, as root) still runs its cluster:
``relocate=True`` (what `airscope up` asks) puts it where that user can reach, and finds it again."""

from __future__ import annotations

import os

import pytest

from airscope.local import postgres
from airscope.local.postgres import PostgresServer

pytestmark = [
    pytest.mark.infra,
    pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres user"),
]


@pytest.fixture
def elsewhere(reachable_tmp, monkeypatch):
    place = reachable_tmp("elsewhere") / "airscope"
    monkeypatch.setattr(postgres, "ELSEWHERE", place)
    return place


def test_a_cluster_the_postgres_user_cannot_reach_goes_elsewhere_and_is_found_again(
    reachable_tmp, free_port, elsewhere, capsys
):
    closed = reachable_tmp("closed") / "clone"
    closed.mkdir(mode=0o700)
    wanted = closed / "var" / "data" / "postgres"
    server = PostgresServer(wanted, free_port(), run_dir=closed / "var" / "run", relocate=True)
    assert server.relocated and server.data_dir.is_relative_to(elsewhere)
    try:
        server.start()
        server.ensure_database("kept", "pw")
        assert wanted.is_symlink() and wanted.resolve() == server.data_dir
        assert (
            f"PostgreSQL's data goes to {server.data_dir}: the postgres user cannot enter {closed};"
            in capsys.readouterr().err
        )
        assert (server.data_dir.parent / "origin").read_text() == f"the PostgreSQL cluster of {wanted}\n"
        assert server.socket_dir.parent == server.data_dir.parent
        # What `airscope down` and `status` build: the same cluster, the same command line.
        again = PostgresServer(wanted, server.port, run_dir=closed / "var" / "run", relocate=True)
        assert again.data_dir == server.data_dir and again.argv() == server.argv()
        assert again.is_running()
    finally:
        server.stop()
    # Another checkout gets its own.
    other = PostgresServer(closed / "other" / "postgres", free_port(), relocate=True)
    assert other.data_dir.is_relative_to(elsewhere) and other.data_dir != server.data_dir


def test_a_reachable_cluster_stays_where_it_was_asked_for(reachable_tmp, free_port, elsewhere):
    wanted = reachable_tmp("open") / "var" / "data" / "postgres"
    server = PostgresServer(wanted, free_port(), relocate=True)
    assert not server.relocated and server.data_dir == wanted
    assert server.socket_dir == wanted.parent / "postgres-socket"
