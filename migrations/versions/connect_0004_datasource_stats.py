"""per-datasource stats: counters per 5-minute bucket, last success and error

Revision ID: connect_0004
Revises: connect_0003
Create Date: 2026-12-03 10:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0004'
down_revision: Union[str, Sequence[str], None] = 'connect_0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('connect_stat',
    sa.Column('datasource_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('datasource_id', 'bucket', 'name', name=op.f('pk_connect_stat'))
    )
    op.create_table('connect_stat_last',
    sa.Column('datasource_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ok_at', sa.Float(), nullable=True),
    sa.Column('error_at', sa.Float(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('datasource_id', name=op.f('pk_connect_stat_last'))
    )


def downgrade() -> None:
    op.drop_table('connect_stat_last')
    op.drop_table('connect_stat')
