-- Top scenarios in [start, end): alerts, distinct sources, events, first and last alert.
-- params: start end limit
SELECT
    scenario,
    count() AS alerts,
    uniqExact(source_value) AS sources,
    sum(events_count) AS events,
    min(start_at) AS first_seen,
    max(stop_at) AS last_seen
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
GROUP BY scenario
ORDER BY alerts DESC, scenario
LIMIT %(limit)s
