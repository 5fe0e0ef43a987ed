"""Alembic environment: migrations run on the connection `Store.migrate` hands over.

`Store.migrate` opens the transaction and takes the cross-process lock first, so this
file only binds the context to that connection. Run by hand with
`python -m analytics.store migrate --url URL` rather than the `alembic` command.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from analytics.tables import UtcDateTime, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations through analytics.store.Store.migrate")



def _render_item(kind: str, obj: Any, _autogen: Any) -> str | bool:
    """Write UtcDateTime as the plain type it stores, so revisions never import live code."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    render_item=_render_item,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: later revisions copy tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
