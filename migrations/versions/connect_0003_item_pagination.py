"""connected items: their own pagination

Revision ID: connect_0003
Revises: connect_0002
Create Date: 2026-12-03 10:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0003'
down_revision: Union[str, Sequence[str], None] = 'connect_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.add_column(sa.Column('pagination', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.drop_column('pagination')
