"""calls.channel may be 'sip' (the direct SIP carrier).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_channel'), type_='check')
        batch_op.create_check_constraint('channel', "channel IN ('twilio', 'browser', 'cli', 'sip')")


def downgrade() -> None:
    # fails while calls with channel 'sip' exist: delete or keep them deliberately first
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_channel'), type_='check')
        batch_op.create_check_constraint('channel', "channel IN ('twilio', 'browser', 'cli')")
