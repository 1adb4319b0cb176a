-- Decisions taken in [start, end) by origin and type: count, distinct targets, simulated ones, mean duration.
-- params: start end
SELECT
    origin,
    type,
    count() AS decisions,
    uniqExact(scope, value) AS targets,
    countIf(simulated = 1) AS simulated,
    round(avg(duration)) AS avg_duration_s
FROM decisions FINAL
WHERE created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s)
GROUP BY origin, type
ORDER BY decisions DESC, origin, type
