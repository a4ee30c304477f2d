"""Operator commands: `flask --app service keys create`, `seed`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from . import db


def register(app: Flask) -> None:
    # AppGroup runs each command inside this app's context, so it writes to this app's database
    # (a plain click.Group fell back to whichever app's engine was made last).
    keys = AppGroup("keys", help="Manage API keys.")

    @keys.command("create")
    @click.option("--org", required=True, help="Organisation slug; created if new.")
    @click.option(
        "--role", required=True, type=click.Choice(["reader", "reporter", "verifier", "admin"])
    )
    @click.option("--label", default=None, help="A note for admins.")
    def create_key(org: str, role: str, label: str | None):
        """Create a key and print it alone on the last line (it is not shown again)."""
        from .core import keys as core
        from .resources.fields import SLUG

        if not SLUG.match(org) or len(org) > 64:
            raise click.BadParameter("must be a lower-case slug like 'sohr'", param_hint="--org")
        with db.session_scope() as session:
            row, secret = core.create(session, None, org, role, label)
        # The id (for listing and revoking) is not the key: say so, lest it read as a second key.
        click.echo(
            f"Created a {role} key for organisation '{org}' (key id {row.id}); "
            "the key itself is on the next line and is not shown again.",
            err=True,
        )
        click.echo(secret)

    app.cli.add_command(keys)

    @app.cli.command("seed")
    @click.option("--path", default=None, help="Folder of seed files (default: seeds/).")
    def seed(path: str | None):
        """Load seeds/ through the same service functions as the API; twice is the same as once."""
        from .seeding import SeedError, load_seeds

        try:
            counts = load_seeds(path)
        except SeedError as exc:
            raise click.ClickException(f"seed data refused: {exc}") from None
        click.echo("Seeded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    from .importers.cli import register as register_importers

    register_importers(app)  # `flask --app service import --format acled|ucdp FILE.csv`
