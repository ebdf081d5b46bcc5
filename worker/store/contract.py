"""Stored rows as the published `Article` contract (schemas/), the shape consumers are promised."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas import Article as ArticleRecord
from worker.store.models import Article


def get_article(*, session: Session, article_id: int) -> ArticleRecord | None:
    """The stored article with this id as an `Article` record, or None."""
    row = session.scalar(select(Article).where(Article.id == article_id))
    if row is None:
        return None
    return ArticleRecord(
        id=row.id,
        headline=row.headline,
        headline_key=row.headline_key,
        published_at=row.published_at,
        published_precision=row.published_precision,
        published_source=row.published_source,
        published_utc_offset_minutes=row.published_utc_offset_minutes,
        body=row.body.split("\n\n") if row.body else [],
        byline=row.byline,
        section_labels=row.section_labels,
        region=row.region,
        region_confidence=row.region_confidence,
        region_scores=row.region_scores,
        region_evidence=row.region_evidence,
        url=row.url,
        source=row.source,
        content_type=row.content_type,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        seen_count=row.seen_count,
        extractor_version=row.extractor_version,
        classifier_version=row.classifier_version,
    )
