-- Decisions (one row per decision id; ids are deterministic: `<alert id>-<n>` for engine decisions).
-- `created_at` is the decision's start in event time (until - duration). Idempotent like `alerts`.
CREATE TABLE IF NOT EXISTS decisions
(
    id           String,
    alert_id     String,
    origin       String,
    scenario     String,
    scope        String,
    value        String,
    type         String,
    duration     UInt32,
    created_at   DateTime,
    until        DateTime,
    simulated    UInt8,
    inserted_at  DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (toStartOfHour(created_at), origin, id)
