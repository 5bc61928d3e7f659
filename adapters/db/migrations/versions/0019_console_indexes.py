"""The console's health and failures pages: indexes so they read a busy outbox and delivery
log without a scan.

* outbox_messages (destination, status, delivered_at): each destination's last delivery and
  its deliveries in the last hour are index ranges, and the destinations themselves a skip
  scan (counting a week of 100k delivered rows took 0.5 s on SQLite);
* webhook_deliveries (status, updated_at): the newest failed deliveries of every endpoint.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_destination_delivered", "outbox_messages",
                    ["destination", "status", "delivered_at"])
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries",
                    ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_status", table_name="webhook_deliveries")
    op.drop_index("ix_outbox_destination_delivered", table_name="outbox_messages")
