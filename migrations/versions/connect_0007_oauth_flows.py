"""OAuth2 Connect flows under way: the state kept on the server, single use

Revision ID: connect_0007
Revises: connect_0006
Create Date: 2026-12-04 20:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'connect_0007'
down_revision: Union[str, Sequence[str], None] = 'connect_0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('connect_oauth_flow',
    sa.Column('state_digest', sa.String(length=64), nullable=False),
    sa.Column('datasource_id', sa.Integer(), nullable=False),
    sa.Column('session_digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['datasource_id'], ['connect_datasource.id'],
                            name=op.f('fk_connect_oauth_flow_datasource_id_connect_datasource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state_digest', name=op.f('pk_connect_oauth_flow'))
    )
    with op.batch_alter_table('connect_oauth_flow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connect_oauth_flow_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_connect_oauth_flow_session_digest'), ['session_digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('connect_oauth_flow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connect_oauth_flow_session_digest'))
        batch_op.drop_index(batch_op.f('ix_connect_oauth_flow_expires_at'))
    op.drop_table('connect_oauth_flow')
