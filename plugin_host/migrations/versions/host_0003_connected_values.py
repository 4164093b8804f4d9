"""host_connected_value: one row per stored connected value, for JQL search

Revision ID: host_0003
Revises: host_0002
Create Date: 2026-12-03 11:00:00

The snapshots in host_issue.custom_fields stay the record; the new rows are built
from them here, and kept equal to them by every later write.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from plugin_host.connected_index import snapshot_rows

# revision identifiers, used by Alembic.
revision: str = 'host_0003'
down_revision: Union[str, Sequence[str], None] = 'host_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VALUE_PREFIX = 200  # plugin_host.models.VALUE_PREFIX when this revision was written
CONNECTED = 'connected_item_'
issues = sa.table('host_issue', sa.column('id', sa.Integer), sa.column('custom_fields', sa.JSON))


def upgrade() -> None:
    values = op.create_table(
        'host_connected_value',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=40), nullable=False),
        sa.Column('value_prefix', sa.String(length=VALUE_PREFIX), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('label', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['host_issue.id'],
                                name=op.f('fk_host_connected_value_issue_id_host_issue'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_host_connected_value')),
    )
    op.create_index('ix_host_connected_value_lookup', 'host_connected_value', ['field', 'value_prefix'])
    op.create_index(op.f('ix_host_connected_value_issue_id'), 'host_connected_value', ['issue_id'])
    connection = op.get_bind()
    batch = []
    for issue_id, fields in connection.execute(sa.select(issues.c.id, issues.c.custom_fields)).all():
        for field, snapshot in (fields or {}).items():
            if field.startswith(CONNECTED):
                batch += [{'issue_id': issue_id, 'field': field, 'value_prefix': value[:VALUE_PREFIX],
                           'value': value, 'label': label} for value, label in snapshot_rows(snapshot)]
        if len(batch) >= 1000:
            op.bulk_insert(values, batch)
            batch = []
    if batch:
        op.bulk_insert(values, batch)


def downgrade() -> None:
    op.drop_index(op.f('ix_host_connected_value_issue_id'), table_name='host_connected_value')
    op.drop_index('ix_host_connected_value_lookup', table_name='host_connected_value')
    op.drop_table('host_connected_value')
