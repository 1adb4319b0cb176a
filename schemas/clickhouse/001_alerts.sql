-- Alerts (one row per CrowdSec alert; `id` is the engine's deterministic alert id).
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality, IPv4, DateTime64, Map, JSON or TTL here
-- (later migrations add what the server supports). Raw log lines are never stored: `events.meta` holds
-- only each event's Meta map (JSON object), as CrowdSec's alert API does.
-- Redelivery is idempotent: ReplacingMergeTree keeps one row per sorting key (the key ends in `id`, and its
-- other columns are functions of the alert, so copies share it); read with FINAL or group by id.
CREATE TABLE IF NOT EXISTS alerts
(
    id                 String,
    scenario           String,
    scenario_version   String,
    scenario_hash      String,
    message            String,
    source_scope       String,
    source_value       String,
    source_ip          String,
    source_range       String,
    source_as_number   String,
    source_as_name     String,
    source_country     String,
    source_latitude    Float64,
    source_longitude   Float64,
    events_count       UInt32,
    start_at           DateTime,
    stop_at            DateTime,
    capacity           Int32,
    leakspeed          String,
    remediation        UInt8,
    simulated          UInt8,
    labels             Nested(key String, value String),
    events             Nested(timestamp DateTime, meta String),
    inserted_at        DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(start_at)
ORDER BY (toStartOfHour(start_at), scenario, id)
