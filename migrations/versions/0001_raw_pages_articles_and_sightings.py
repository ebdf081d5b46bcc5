"""raw pages, articles and sightings

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('articles',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('headline', sa.Text(), nullable=False),
    sa.Column('headline_key', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_precision', sa.String(length=10), nullable=True),
    sa.Column('published_source', sa.String(length=10), nullable=True),
    sa.Column('published_utc_offset_minutes', sa.SmallInteger(), nullable=True),
    sa.Column('undated_source', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('byline', sa.Text(), nullable=True),
    sa.Column('section_labels', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('region_confidence', sa.Float(), nullable=False),
    sa.Column('region_scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('region_evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=10), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_count', sa.Integer(), nullable=False),
    sa.Column('extractor_version', sa.String(length=40), nullable=False),
    sa.Column('classifier_version', sa.String(length=40), nullable=False),
    sa.CheckConstraint('(published_at IS NULL) = (undated_source IS NOT NULL)', name=op.f('ck_articles_undated_has_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('headline_key', 'published_at', 'undated_source', name='uq_articles_dedupe_key', postgresql_nulls_not_distinct=True)
    )
    op.create_index('ix_articles_published_at', 'articles', ['published_at'], unique=False)
    op.create_index(op.f('ix_articles_region'), 'articles', ['region'], unique=False)
    op.create_table('raw_pages',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('content_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('outcome', sa.Enum('stored', 'duplicate', 'rejected', name='outcome'), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('article_id', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("(outcome = 'rejected') = (reason IS NOT NULL)", name=op.f('ck_raw_pages_rejected_has_reason')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_raw_pages_article_id_articles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_pages')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_raw_pages_content_hash'))
    )
    op.create_index(op.f('ix_raw_pages_article_id'), 'raw_pages', ['article_id'], unique=False)
    op.create_table('sightings',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('receipt_key', sa.String(length=240), nullable=False),
    sa.Column('raw_page_id', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.Enum('stored', 'duplicate', 'rejected', name='outcome'), nullable=False),
    sa.Column('match', sa.Enum('new', 'same_content', 'same_key', name='sighting_match'), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(outcome = 'rejected') = (article_id IS NULL)", name=op.f('ck_sightings_article_unless_rejected')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_sightings_article_id_articles')),
    sa.ForeignKeyConstraint(['raw_page_id'], ['raw_pages.id'], name=op.f('fk_sightings_raw_page_id_raw_pages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings')),
    sa.UniqueConstraint('receipt_key', name=op.f('uq_sightings_receipt_key'))
    )
    op.create_index(op.f('ix_sightings_article_id'), 'sightings', ['article_id'], unique=False)
    op.create_index(op.f('ix_sightings_raw_page_id'), 'sightings', ['raw_page_id'], unique=False)
    op.create_index('ix_sightings_source_received_at', 'sightings', ['source', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sightings_source_received_at', table_name='sightings')
    op.drop_index(op.f('ix_sightings_raw_page_id'), table_name='sightings')
    op.drop_index(op.f('ix_sightings_article_id'), table_name='sightings')
    op.drop_table('sightings')
    op.drop_index(op.f('ix_raw_pages_article_id'), table_name='raw_pages')
    op.drop_table('raw_pages')
    op.drop_index(op.f('ix_articles_region'), table_name='articles')
    op.drop_index('ix_articles_published_at', table_name='articles')
    op.drop_table('articles')
    # Dropping the tables leaves their enum types behind; remove them so `downgrade base` is clean.
    sa.Enum(name='sighting_match').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='outcome').drop(op.get_bind(), checkfirst=True)
