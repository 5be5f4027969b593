"""Consent (issue 16): companies.retention_days may be 0 (no transcript kept after the call), per-language
recording notices, and calls.recording_objected (the caller objected to the recording).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_companies_retention_days'), type_='check')
        batch_op.create_check_constraint('retention_days', 'retention_days >= 0')
        batch_op.add_column(sa.Column('recording_notice_de', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('recording_notice_en', sa.Text(), nullable=True))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_objected', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # companies that keep no transcript (0) get the shortest period the old schema allows
    op.execute("UPDATE companies SET retention_days = 1 WHERE retention_days < 1")
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('recording_objected')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('recording_notice_en')
        batch_op.drop_column('recording_notice_de')
        batch_op.drop_constraint(op.f('ck_companies_retention_days'), type_='check')
        batch_op.create_check_constraint('retention_days', 'retention_days >= 1')
