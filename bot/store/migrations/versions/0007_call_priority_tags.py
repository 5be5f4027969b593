"""calls.priority and calls.tags: the post-call summary's priority (urgent / normal / low / spam) and tags
(bot.brain.call_summary), written when a call finishes (old calls keep NULL); companies.digest_time and
digest_sent_at for the daily digest e-mail (bot.runtime.digest).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_priority'), ['priority'], unique=False)
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_time', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('digest_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('digest_time')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_priority'))
        batch_op.drop_column('tags')
        batch_op.drop_column('priority')
