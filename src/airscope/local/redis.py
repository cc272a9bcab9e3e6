"""A Redis of our own, run as a plain background process on 127.0.0.1, without persistence."""

from __future__ import annotations

from pathlib import Path

import redis

from airscope.local.process import Background, Server


class RedisServer(Server):
    stop_timeout = 10.0  # SIGTERM: with no save points Redis exits without writing

    def __init__(
        self,
        dir: Path,
        port: int,
        *,
        run_dir: Path | None = None,
        log_dir: Path | None = None,
        ready_timeout: float = 15.0,
    ) -> None:
        self.dir = Path(dir).absolute()
        process = Background(
            "redis",
            Path(run_dir or self.dir.parent).absolute() / "redis.pid",
            Path(log_dir or self.dir.parent).absolute() / "redis.log",
        )
        super().__init__(process, port, ready_timeout)

    def __repr__(self) -> str:
        return f"RedisServer({str(self.dir)!r}, port={self.port})"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _launch(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process.start(self.argv(), cwd=self.dir, port=self.port)

    def argv(self) -> list[str]:
        return [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)),
            # A cache and a queue for local mode: nothing to keep across restarts.
            *("--save", "", "--appendonly", "no"),
        ]

    def probe(self) -> None:
        """Raises unless the server answers PING."""
        with redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.ping()
