"""Dashboard users: creation with a checked name and password."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from collector.storage.models import User

MIN_PASSWORD_LENGTH = 8


def create_user(s: Any, username: str, password: str) -> User:
    """Add a user (caller commits). Raises ValueError on a bad name or weak password."""
    username = username.strip()
    if not username or len(username) > 100:
        raise ValueError("user name must be 1 to 100 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password))
    s.add(user)
    return user
