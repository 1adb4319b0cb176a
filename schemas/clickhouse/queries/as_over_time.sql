-- Alerts per `step`-second bucket for the `limit` busiest source AS numbers in [start, end).
-- One row per (bucket, value), for a stacked chart; step is e.g. 3600 (hourly) or 86400 (daily).
-- params: start end step limit
SELECT
    toDateTime(intDiv(toUInt32(start_at), %(step)s) * %(step)s) AS bucket,
    source_as_number AS value,
    count() AS alerts
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
  AND source_as_number IN
  (
      SELECT source_as_number
      FROM alerts FINAL
      WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s) AND source_as_number != ''
      GROUP BY source_as_number
      ORDER BY count() DESC, source_as_number
      LIMIT %(limit)s
  )
GROUP BY bucket, value
ORDER BY bucket, alerts DESC, value
