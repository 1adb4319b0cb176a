-- requires: ttl
-- Retention (ClickHouse >= 19.6): rows older than ${retention_days} days are dropped in merges.
ALTER TABLE alerts MODIFY TTL start_at + INTERVAL ${retention_days} DAY;
ALTER TABLE decisions MODIFY TTL until + INTERVAL ${retention_days} DAY;
ALTER TABLE alerts_hourly MODIFY TTL hour + INTERVAL ${retention_days} DAY
