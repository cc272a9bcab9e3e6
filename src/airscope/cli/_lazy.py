"""The command group that imports a subcommand's module only when it runs, and turns the library's
errors into clean one-line CLI errors."""

from __future__ import annotations

import importlib

import click

from airscope.errors import AirscopeError


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs (or --help lists it), so every
    `airscope` call does not pay for every module's imports. Click's documented lazy-loading pattern."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        # Library code knows nothing of click; a failure the user can fix becomes "Error: <message>".
        try:
            return super().invoke(ctx)
        except AirscopeError as exc:
            raise click.ClickException(str(exc)) from None
