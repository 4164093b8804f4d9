"""datasource secrets: room for secret header names (header:<name>, names up to 100)

Revision ID: connect_0005
Revises: connect_0004
Create Date: 2026-12-03 10:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0005'
down_revision: Union[str, Sequence[str], None] = 'connect_0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('connect_datasource_secret') as batch:
        batch.alter_column('field', existing_type=sa.String(length=40), type_=sa.String(length=120),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('connect_datasource_secret') as batch:
        batch.alter_column('field', existing_type=sa.String(length=120), type_=sa.String(length=40),
                           existing_nullable=False)
