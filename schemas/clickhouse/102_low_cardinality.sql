-- requires: low_cardinality
-- Dictionary-encoded strings for the low-cardinality columns outside the sorting keys (ClickHouse >= 19.x
-- without an experimental setting).
ALTER TABLE alerts MODIFY COLUMN source_scope LowCardinality(String);
ALTER TABLE alerts MODIFY COLUMN source_country LowCardinality(String);
ALTER TABLE alerts MODIFY COLUMN source_as_name LowCardinality(String);
ALTER TABLE alerts MODIFY COLUMN leakspeed LowCardinality(String);
ALTER TABLE decisions MODIFY COLUMN scope LowCardinality(String);
ALTER TABLE decisions MODIFY COLUMN type LowCardinality(String);
ALTER TABLE decisions MODIFY COLUMN scenario LowCardinality(String)
