"""connected items: option details templates

Revision ID: connect_0002
Revises: connect_0001
Create Date: 2026-12-03 07:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0002'
down_revision: Union[str, Sequence[str], None] = 'connect_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.add_column(sa.Column('details', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('connect_item') as batch:
        batch.drop_column('details')
