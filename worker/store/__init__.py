"""The store, the only writer of the database: models, per-process engine, the batch upsert."""

from worker.store.batch import (
    BatchOutcome,
    ContentRaced,
    ItemOutcome,
    find_known_content,
    upsert_batch,
)
from worker.store.engine import (
    database_url,
    get_engine,
    reset_engine,
    transaction,
    upgrade_database,
)
from worker.store.models import Match, Outcome, StoryLink
from worker.store.stories import StoryRules, story_rules

__all__ = [
    "BatchOutcome",
    "ContentRaced",
    "ItemOutcome",
    "Match",
    "Outcome",
    "StoryLink",
    "StoryRules",
    "database_url",
    "find_known_content",
    "get_engine",
    "reset_engine",
    "story_rules",
    "transaction",
    "upgrade_database",
    "upsert_batch",
]
