"""Dashboard users: creation with a checked name and password, new passwords, deletion,
and the session generation that revokes a user's sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from collector.storage.models import User

MIN_PASSWORD_LENGTH = 8


def create_user(s: Any, username: str, password: str) -> User:
    """Add a user (caller commits). Raises ValueError on a bad name or weak password."""
    username = username.strip()
    if not username or len(username) > 100:
        raise ValueError("user name must be 1 to 100 characters")
    _check_password(password)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password))
    s.add(user)
    return user


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
    """Remove the user; their sessions die with the row (caller commits)."""
    s.delete(get_user(s, username))


def revoke_sessions(s: Any, user_id: int) -> None:
    """End every session of the user (logging out ends them everywhere; caller commits)."""
    s.execute(update(User).where(User.id == user_id)
              .values(session_generation=User.session_generation + 1))
