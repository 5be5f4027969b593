"""messages.called_back_at and messages.called_back_by: the callback list (issue 16 item 4). Who called the caller
back (the logged-in user's name, else e-mail, kept as text so it survives the account) and when; NULL = not yet.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('called_back_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('called_back_by', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('called_back_by')
        batch_op.drop_column('called_back_at')
