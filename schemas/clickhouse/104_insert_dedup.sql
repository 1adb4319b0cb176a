-- requires: non_replicated_deduplication
-- A batch retried after a lost acknowledgement is dropped at insert by its block hash (ClickHouse >= 20.x),
-- on top of ReplacingMergeTree's merge-time deduplication.
ALTER TABLE alerts MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE decisions MODIFY SETTING non_replicated_deduplication_window = 1000
