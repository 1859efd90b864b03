"""Dashboard users: creation with a checked name and password, new passwords, deletion,
and the session generation that revokes a user's sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from werkzeug.security import generate_password_hash

from collector.storage.models import ROLES, Site, User, UserSite

MIN_PASSWORD_LENGTH = 8


def create_user(s: Any, username: str, password: str, *, role: str = "admin",
                sites: Sequence[str] = ()) -> User:
    """Add a user (caller commits): an ``admin`` of everything, or a ``viewer`` or
    ``editor`` of the named ``sites``. Raises ValueError on a bad name, weak password,
    unknown role or site."""
    username = username.strip()
    if not username or len(username) > 100:
        raise ValueError("user name must be 1 to 100 characters")
    _check_password(password)
    site_ids = _site_roles(s, role, sites)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password),
                is_admin=role == "admin")
    s.add(user)
    if site_ids:
        s.flush()  # the user's id, for its site roles
        s.add_all(UserSite(user_id=user.id, site_id=site_id, role=role) for site_id in site_ids)
    return user


def _site_roles(s: Any, role: str, sites: Sequence[str]) -> list[int]:
    """The ids of ``sites`` for a ``role``; an admin has no site list (it has them all)."""
    if role == "admin":
        if sites:
            raise ValueError("an admin has every site; --site is for viewer and editor")
        return []
    if role not in ROLES:
        raise ValueError(f"role must be admin, {' or '.join(ROLES)}, not {role!r}")
    if not sites:
        raise ValueError(f"a {role} needs at least one --site")
    ids = []
    for name in sites:
        site_id = s.scalar(select(Site.id).where(Site.name == name))
        if site_id is None:
            raise ValueError(f"no site named {name!r}")
        ids.append(site_id)
    return ids


@dataclass(frozen=True, slots=True)
class Access:
    """What a user may do: every site (admin), or a role per site id."""

    is_admin: bool
    roles: dict[int, str] = field(default_factory=dict)

    def may_read(self, site_id: int) -> bool:
        return self.is_admin or site_id in self.roles

    def may_edit(self, site_id: int) -> bool:
        return self.is_admin or self.roles.get(site_id) == "editor"


def user_access(s: Any, user_id: int, is_admin: bool) -> Access:
    """The access of a user (one query for a non-administrator's site roles)."""
    if is_admin:
        return Access(True)
    rows = s.execute(select(UserSite.site_id, UserSite.role).where(UserSite.user_id == user_id))
    return Access(False, {site_id: role for site_id, role in rows})


def list_users(s: Any) -> list[tuple[str, str]]:
    """(name, what the user may do) of every user, by name: ``admin`` or
    ``viewer: site-a, site-b`` / ``editor: ...``."""
    names = dict(s.execute(select(Site.id, Site.name)).all())
    out = []
    for user in s.scalars(select(User).order_by(User.username)):
        if user.is_admin:
            out.append((user.username, "admin"))
            continue
        by_role: dict[str, list[str]] = {}
        for site_id, role in s.execute(select(UserSite.site_id, UserSite.role)
                                       .where(UserSite.user_id == user.id)):
            by_role.setdefault(role, []).append(names.get(site_id, str(site_id)))
        out.append((user.username, "; ".join(f"{role}: {', '.join(sorted(sites))}"
                                             for role, sites in sorted(by_role.items()))
                    or "no sites"))
    return out


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def get_user(s: Any, username: str) -> User:
    """The user named ``username``; ValueError when there is none."""
    user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise ValueError(f"no user named {username!r}")
    return user


def set_password(s: Any, username: str, password: str) -> User:
    """Give the user a new password and revoke their sessions (caller commits)."""
    _check_password(password)
    user = get_user(s, username)
    user.password_hash = generate_password_hash(password)
    user.session_generation += 1
    return user


def delete_user(s: Any, username: str) -> None:
    """Remove the user and their site roles; their sessions die with the row (caller
    commits)."""
    user = get_user(s, username)
    s.execute(delete(UserSite).where(UserSite.user_id == user.id))
    s.delete(user)


def revoke_sessions(s: Any, user_id: int) -> None:
    """End every session of the user (logging out ends them everywhere; caller commits)."""
    s.execute(update(User).where(User.id == user_id)
              .values(session_generation=User.session_generation + 1))
