"""`airscope backup`, `restore` and `migrate`: the local platform's PostgreSQL data and
platform-services' schema (docs/procedures/backup-restore.md, docs/procedures/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from airscope.local import backup as local_backup
from airscope.local import migrations


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the dumps go (default: backups/ under the home, var/backups).",
)
@click.option(
    "--database",
    "names",
    multiple=True,
    help="Only this service database (repeatable; default: every one).",
)
def backup(directory: Path | None, names: tuple[str, ...]) -> None:
    """Dump every service database of the local PostgreSQL (pg_dump, custom format), one file each."""
    for path in local_backup.backup(directory, list(names)):
        click.echo(f"{path}  ({path.stat().st_size} bytes)")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", help="Restore into this database instead of the one the dump came from.")
@click.option("--force", is_flag=True, help="Replace the database even while services are connected to it.")
def restore(file: Path, into: str | None, force: bool) -> None:
    """Restore FILE (made by `airscope backup`) into the database it was dumped from, replacing it
    only once the whole dump has been restored. Stop the service that uses the database first."""
    restored = local_backup.restore(file, into, force)
    what = "replaced" if restored.replaced else "created"
    click.echo(
        f"{restored.database} {what} from {file} (dumped from {restored.source}): "
        f"{len(restored.tables)} tables: {', '.join(restored.tables)}"
    )


@click.group()
def migrate() -> None:
    """platform-services' schema (Alembic): where it is, and upgrades and downgrades by hand.
    DATABASE_URL when set, else the local platform's database."""


@migrate.command()
def current() -> None:
    """The revision the database is at, and the newest the code knows."""
    click.echo(f"database at {migrations.current() or 'base (no schema)'}; code head {migrations.head()}")


@migrate.command()
def history() -> None:
    """Every revision the code knows, oldest first."""
    for revision in migrations.history():
        click.echo(f"{revision.id}  (after {revision.down or 'base'})  {revision.title}")


# "-1" and "+1" (relative steps) are revisions, not options.
RELATIVE = {"ignore_unknown_options": True}


@migrate.command(context_settings=RELATIVE)
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade to REVISION (default: head, as the service does when it starts; +1 for one step)."""
    before, after = migrations.upgrade(revision)
    click.echo(f"upgraded {before or 'base'} -> {after or 'base'}")


@migrate.command(context_settings=RELATIVE)
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade to REVISION (a revision id, -1 for one step, base for none). Stop platform-services
    first: it upgrades to its head again when it starts."""
    before, after = migrations.downgrade(revision)
    click.echo(f"downgraded {before or 'base'} -> {after or 'base'}")
