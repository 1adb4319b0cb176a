-- requires: bloom_filter_index
-- Data-skipping indexes for "everything about this IP" lookups, which the time-first sorting keys do not serve.
ALTER TABLE alerts ADD INDEX IF NOT EXISTS idx_source_value source_value TYPE bloom_filter GRANULARITY 4;
ALTER TABLE decisions ADD INDEX IF NOT EXISTS idx_value value TYPE bloom_filter GRANULARITY 4;
ALTER TABLE alerts MATERIALIZE INDEX idx_source_value;
ALTER TABLE decisions MATERIALIZE INDEX idx_value
