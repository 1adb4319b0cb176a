-- Alerts per scenario per hour, kept up to date by a materialized view on every insert into `alerts`.
-- uniqExact states of the alert ids make it idempotent: a redelivered alert does not count twice.
-- Read with: SELECT hour, scenario, uniqExactMerge(alerts), uniqMerge(sources) ... GROUP BY hour, scenario
CREATE TABLE IF NOT EXISTS alerts_hourly
(
    hour       DateTime,
    scenario   String,
    alerts     AggregateFunction(uniqExact, String),
    sources    AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, scenario);

CREATE MATERIALIZED VIEW IF NOT EXISTS alerts_hourly_mv TO alerts_hourly AS
SELECT
    toStartOfHour(start_at) AS hour,
    scenario,
    uniqExactState(id) AS alerts,
    uniqState(source_value) AS sources
FROM alerts
GROUP BY hour, scenario
