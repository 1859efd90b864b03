"""First run of ``collector serve``: a site to send to and a user to log in with."""

from __future__ import annotations

import json
import secrets

from flask import Flask
from sqlalchemy import func, select

from collector.storage import engine as db
from collector.storage.models import Site, User
from collector.storage.sites import create_site
from collector.storage.users import create_user
from collector.tracking import audit
from collector.tracking.backend import INTERNAL_SITE


def bootstrap(app: Flask, base_url: str) -> list[str]:
    """Create site ``default`` and user ``admin`` on an empty database; return what to print."""
    lines: list[str] = []
    audit.register_audit_events(app)  # so the catalog documents them before they occur
    with db.write_session(app) as s:
        # The collector's own site (created by the audit registrations above) is no
        # site to send to.
        if not s.scalar(select(func.count()).select_from(Site)
                        .where(Site.name != INTERNAL_SITE)):
            site = create_site(s, "default", [])
            s.commit()
            audit.site_created(app, site.name, [], via="bootstrap")
            lines += [
                "Created site 'default'.",
                f"  write key: {site.write_key}",
                f"  allowed origins: {', '.join(json.loads(site.origins)) or '(none yet)'}"
                " + the collector's own pages",
                "  add lesson sites with: collector site add NAME --origin https://your.site",
                "  embed: <script async src=\"" + base_url + "/tracker.js\" data-key=\""
                + site.write_key + "\"></script>",
            ]
        if not s.scalar(select(func.count()).select_from(User)):
            password = secrets.token_urlsafe(12)
            create_user(s, "admin", password)
            s.commit()
            lines += [
                "Created dashboard user 'admin' with password (shown once):",
                f"  {password}",
            ]
    return lines
