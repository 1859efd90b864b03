"""registry per site: event_types and event_names keyed by (site, name)

A registration sent with one site's write key documented that name on every site, and
the catalog showed one site's examples next to another's events. Registrations made
before this migration are kept for every site that stored events of that name (every
site when none did yet), and the counters are rebuilt per site from the events.

Revision ID: 0009_site_registrations
Revises: 0008_user_sessions
Create Date: 2026-12-01 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_site_registrations"
down_revision = "0008_user_sessions"
branch_labels = None
depends_on = None

TYPE_COLUMNS = ("name", "version", "schema_id", "description", "fields", "source",
                "registered_at", "updated_at")

# One pass over events (GROUP BY site, name), then a join on each group's first id for
# its example, as the registry's first migration did for names alone.
BACKFILL_NAMES = """
INSERT INTO event_names (site_id, name, eid, count, first_seen, last_seen, warned,
                         last_warnings, example)
SELECT a.site_id, a.name, a.eid, a.n, a.first_seen, a.last_seen, a.warned, NULL,
       CASE WHEN length(e.payload) <= 8192 THEN e.payload END
FROM (SELECT site_id, name, min(eid) AS eid, count(*) AS n, min(received_at) AS first_seen,
             max(received_at) AS last_seen, count(warnings) AS warned, min(id) AS first_id
      FROM events GROUP BY site_id, name) AS a
JOIN events AS e ON e.id = a.first_id
"""


def _event_types(with_site: bool) -> None:
    columns = [sa.Column("id", sa.Integer(), nullable=False)]
    if with_site:
        columns.append(sa.Column("site_id", sa.Integer(), nullable=False))
    columns += [
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema_id", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_types")),
    ]
    if with_site:
        columns += [
            sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                    name=op.f("fk_event_types_site_id_sites")),
            sa.UniqueConstraint("site_id", "name", "version",
                                name="uq_event_types_site_name_version"),
        ]
    else:
        columns += [
            sa.UniqueConstraint("name", "version", name="uq_event_types_name_version"),
            sa.UniqueConstraint("schema_id", name=op.f("uq_event_types_schema_id")),
        ]
    op.create_table("event_types", *columns)


def _event_names(with_site: bool) -> None:
    key = [sa.Column("site_id", sa.Integer(), nullable=False)] if with_site else []
    extra: list[sa.SchemaItem] = [
        sa.PrimaryKeyConstraint(*(["site_id"] if with_site else []), "name",
                                name=op.f("pk_event_names"))]
    if with_site:
        extra.append(sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                             name=op.f("fk_event_names_site_id_sites")))
    op.create_table(
        "event_names", *key,
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("eid", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("warned", sa.BigInteger(), nullable=False),
        sa.Column("last_warnings", sa.Text(), nullable=True),
        sa.Column("example", sa.Text(), nullable=True),
        *extra)


def upgrade() -> None:
    conn = op.get_bind()
    cols = ", ".join(TYPE_COLUMNS)
    registrations = conn.execute(sa.text(f"SELECT {cols} FROM event_types")).mappings().all()
    sites = [row[0] for row in conn.execute(sa.text("SELECT id FROM sites ORDER BY id"))]
    used: dict[str, list[int]] = {}
    for site_id, name in conn.execute(sa.text(
            "SELECT DISTINCT site_id, name FROM events WHERE name IN "
            "(SELECT name FROM event_types) ORDER BY site_id")):
        used.setdefault(name, []).append(site_id)
    op.drop_table("event_types")
    op.drop_table("event_names")
    _event_types(with_site=True)
    _event_names(with_site=True)
    rows = [{**reg, "site_id": site_id}
            for reg in registrations for site_id in used.get(reg["name"], sites)]
    if rows:
        conn.execute(sa.text(f"INSERT INTO event_types (site_id, {cols}) VALUES "
                             f"(:site_id, {', '.join(':' + c for c in TYPE_COLUMNS)})"), rows)
    op.execute(BACKFILL_NAMES)


def downgrade() -> None:
    conn = op.get_bind()
    cols = ", ".join(TYPE_COLUMNS)
    # Back to one registration per (name, version): the earliest site's wins.
    registrations = conn.execute(sa.text(
        f"SELECT {cols} FROM event_types ORDER BY site_id")).mappings().all()
    kept: dict[tuple[str, int], dict[str, object]] = {}
    for reg in registrations:
        kept.setdefault((reg["name"], reg["version"]), dict(reg))
    op.drop_table("event_types")
    op.drop_table("event_names")
    _event_types(with_site=False)
    _event_names(with_site=False)
    if kept:
        conn.execute(sa.text(f"INSERT INTO event_types ({cols}) VALUES "
                             f"({', '.join(':' + c for c in TYPE_COLUMNS)})"),
                     list(kept.values()))
    op.execute("""
INSERT INTO event_names (name, eid, count, first_seen, last_seen, warned, last_warnings,
                         example)
SELECT a.name, a.eid, a.n, a.first_seen, a.last_seen, a.warned, NULL,
       CASE WHEN length(e.payload) <= 8192 THEN e.payload END
FROM (SELECT name, min(eid) AS eid, count(*) AS n, min(received_at) AS first_seen,
             max(received_at) AS last_seen, count(warnings) AS warned, min(id) AS first_id
      FROM events GROUP BY name) AS a
JOIN events AS e ON e.id = a.first_id
""")
