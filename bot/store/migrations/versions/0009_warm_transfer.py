"""companies.warm_transfer (brief the secretary before connecting) and stream_claims.screening (what she pressed
after the briefing: accepted / declined), for the Twilio warm transfer (bot.web.twilio_routes).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 04:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warm_transfer', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('stream_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screening', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stream_claims', schema=None) as batch_op:
        batch_op.drop_column('screening')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('warm_transfer')
