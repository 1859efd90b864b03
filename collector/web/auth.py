"""Dashboard users: login/logout with a session cookie, CSRF tokens, login throttling."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from collector.storage import engine as db
from collector.storage.models import User
from collector.storage.users import Access, revoke_sessions, user_access
from collector.tracking import audit

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

MAX_FAILURES = 5
LOCKOUT_SECONDS = 300
# Pairs remembered at most. Each failure costs a password-hash check (~0.05-0.1 s of a
# core), so filling this many within LOCKOUT_SECONDS is out of reach and the pairs
# evicted first, the least recently failed, have expired anyway.
MAX_TRACKED = 100_000


class LoginThrottle:
    """After MAX_FAILURES failed logins for a (name, address), refuse for LOCKOUT_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Least recently failed first, so a flood evicts the stalest pairs, not a lockout.
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def locked(self, key: tuple[str, str]) -> bool:
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                return False
            recent = [t for t in times if now - t < LOCKOUT_SECONDS]
            if recent:
                self._failures[key] = recent
            else:
                del self._failures[key]
            return len(recent) >= MAX_FAILURES

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(time.monotonic())
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Refuse a state-changing request whose form/header token does not match the session."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="missing or invalid CSRF token; reload the page and retry")


def current_user() -> str | None:
    """The logged-in user's name; None without a session or when it was revoked.

    A session names the user's id and the session generation it was issued under; the
    user's row is read once per request, so logging out, a new password (both bump the
    generation) and deleting the user end every copy of the cookie at once.
    """
    if "session_user" not in g:
        g.session_user, g.access = _session_user()
    name: str | None = g.session_user
    return name


def current_access() -> Access | None:
    """What the logged-in user may read and change (None when nobody is logged in)."""
    current_user()
    access: Access | None = g.access
    return access


def readable_sites() -> set[int] | None:
    """Ids of the sites the user may read; None means every site (an administrator)."""
    access = current_access()
    if access is None:
        return set()
    return None if access.is_admin else set(access.roles)


def may_edit(site_id: int) -> bool:
    """Whether the user may change the site's path rules and saved funnels."""
    access = current_access()
    return access is not None and access.may_edit(site_id)


def session_still_valid() -> bool:
    """Check the session again, past this request's cache (long-lived sockets)."""
    name, access = _session_user()
    return name is not None and access == current_access()


def session_stamp(user: Any) -> str:
    """What a session must carry to stay valid: the user's session generation bound to
    their password hash (its salt is random, so a user deleted and created again under
    the same id and name never inherits the old sessions)."""
    text = f"{user.session_generation}:{user.password_hash}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _session_user() -> tuple[str | None, Access | None]:
    user_id, name = session.get("uid"), session.get("user")
    if user_id is None or name is None:
        return None, None
    with db.session() as s:
        row = s.execute(select(User.username, User.session_generation, User.password_hash,
                               User.is_admin).where(User.id == user_id)).first()
        stamp = str(session.get("stamp", ""))
        if row is None or row.username != name or not hmac.compare_digest(
                session_stamp(row), stamp):
            session.clear()
            return None, None
        return str(name), user_access(s, user_id, row.is_admin)


def login_required(view: F) -> F:
    """Redirect anonymous users to /login (JSON endpoints get 401)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.accept_mimetypes.best == "application/json" or request.path.startswith(
                ("/v1/", "/api/")
            ):
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        g.user = current_user()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made the way real ones are (same method, same cost)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the dashboard.

    Browsers drop tabs and newlines from a Location and read ``\\`` as ``/``, so a
    value holding any whitespace, control or format character or a backslash is
    refused outright rather than cleaned; what is left must parse as a bare path.
    """
    if not target or any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ"
                         for ch in target):
        return url_for("dashboard.home")
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/")
            or target.startswith("//")):
        return url_for("dashboard.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()[:100]
        password = request.form.get("password", "")
        key = (username, request.remote_addr or "")
        throttle: LoginThrottle = bp_throttle()
        if throttle.locked(key):
            flash("Too many failed logins; wait a few minutes and try again.")
            return render_template("login.html"), 429  # type: ignore[return-value]
        with db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
        # An unknown name costs the same hash check as a wrong password, so the
        # answer's timing does not tell which user names exist.
        stored_hash = user.password_hash if user is not None else _dummy_hash()
        if not check_password_hash(stored_hash, password) or user is None:
            throttle.fail(key)
            flash("Wrong user name or password.")
            return render_template("login.html"), 401  # type: ignore[return-value]
        throttle.clear(key)
        session.clear()
        session["user"] = user.username
        session["uid"] = user.id
        session["stamp"] = session_stamp(user)
        session.permanent = True
        audit.user_logged_in(current_app._get_current_object(),  # type: ignore[attr-defined]
                             user.username, request.remote_addr)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    check_csrf()
    user_id = session.get("uid")
    if current_user() is not None and user_id is not None:
        with db.write_session() as s:
            revoke_sessions(s, user_id)  # copies of this cookie die too
            s.commit()
    session.clear()
    return redirect(url_for("auth.login"))


def bp_throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions["collector.login_throttle"]
    return throttle


def init_app(app: Flask) -> None:
    app.extensions["collector.login_throttle"] = LoginThrottle()
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
    app.register_blueprint(bp)
