"""connected items: method, JSON body template and headers

Revision ID: connect_0006
Revises: connect_0005
Create Date: 2026-12-03 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0006'
down_revision: Union[str, Sequence[str], None] = 'connect_0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.add_column(sa.Column('method', sa.String(length=10), nullable=False, server_default='GET'))
        batch.add_column(sa.Column('body', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('headers', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.drop_column('headers')
        batch.drop_column('body')
        batch.drop_column('method')
