"""``collector db``, ``collector site`` and ``collector user``: schema, sites, users."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from collector.storage import engine as db
from collector.storage.models import ROLES, Site
from collector.storage.sites import create_site
from collector.storage.users import create_user, delete_user, list_users, set_password
from collector.tracking import audit
from collector.tracking.backend import INTERNAL_SITE


@click.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every Alembic migration."""
    db.upgrade(db.get_engine())
    click.echo("database is up to date")


@click.group("site")
def site_group() -> None:
    """Sites: write keys and allowed origins."""


@site_group.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True,
              help="Allowed browser origin, e.g. https://courses.example.org (repeat).")
@with_appcontext
def site_add(name: str, origins: tuple[str, ...]) -> None:
    """Add a site; prints its write key as the last line."""

    if name == INTERNAL_SITE:
        raise click.ClickException(f"site name {name!r} is reserved for the collector's "
                                   "own audit events")
    db.upgrade(db.get_engine())
    with db.write_session() as s:
        if s.query(Site).filter_by(name=name).first() is not None:
            raise click.ClickException(f"site {name!r} already exists")
        try:
            site = create_site(s, name, list(origins))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
        audit.site_created(current_app._get_current_object(),  # type: ignore[attr-defined]
                           site.name, json.loads(site.origins), via="cli")
        click.echo(f"site {site.name!r} created; allowed origins: "
                   f"{', '.join(json.loads(site.origins)) or '(none: server-side clients only)'}")
        click.echo("write key:", err=True)
        click.echo(site.write_key)


@site_group.command("list")
@with_appcontext
def site_list() -> None:
    """List sites with their origins and write keys."""

    with db.session() as s:
        for site in s.query(Site).order_by(Site.id):
            click.echo(f"{site.name}\t{site.write_key}\t{','.join(json.loads(site.origins))}")


@click.group("user")
def user_group() -> None:
    """Dashboard users."""


def _password(password_stdin: bool, prompt: str) -> str:
    """The password: one line of standard input, or typed twice at a hidden prompt."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


def _change_users(change: Callable[[Session], object]) -> None:
    """Run ``change`` in one write session on the migrated database; a ValueError it
    raises (unknown user, weak password) is the command's error message."""
    db.upgrade(db.get_engine())
    with db.write_session() as s:
        try:
            change(s)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()


def _password_command(command: str, about: str, prompt: str,
                      change: Callable[[Session, str, str], object], done: str) -> Any:
    """``collector user COMMAND NAME [--password-stdin]``: ``change(session, name,
    password)``, then ``done`` (formatted with the name) is printed."""

    @user_group.command(command, help=about)
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password from standard input.")
    @with_appcontext
    def run(name: str, password_stdin: bool) -> None:
        password = _password(password_stdin, prompt)
        _change_users(lambda s: change(s, name, password))
        click.echo(done.format(name=name))

    return run


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--role", type=click.Choice(["admin", *ROLES]), default="admin", show_default=True,
              help="admin: every site and every change; viewer: reads its sites; editor: "
                   "also changes their path rules and saved funnels.")
@click.option("--site", "sites", multiple=True,
              help="A site a viewer or editor may see (repeat for several).")
@with_appcontext
def user_add(name: str, password_stdin: bool, role: str, sites: tuple[str, ...]) -> None:
    """Add a dashboard user (password from --password-stdin or a prompt)."""
    password = _password(password_stdin, "Password")
    _change_users(lambda s: create_user(s, name, password, role=role, sites=sites))
    click.echo(f"user {name!r} created ({role}{': ' + ', '.join(sites) if sites else ''})")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """List users with what each may see: admin, or viewer/editor of some sites."""
    db.upgrade(db.get_engine())
    with db.session() as s:
        for name, access in list_users(s):
            click.echo(f"{name}\t{access}")
user_password = _password_command(
    "password", "Give a user a new password; their open sessions end.", "New password",
    set_password, "password of {name!r} changed; their sessions are ended")


@user_group.command("delete")
@click.argument("name")
@with_appcontext
def user_delete(name: str) -> None:
    """Delete a user; their open sessions end."""

    _change_users(lambda s: delete_user(s, name))
    click.echo(f"user {name!r} deleted")
