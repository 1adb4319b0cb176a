-- Alerts per time bucket (`step` seconds, e.g. 3600 or 86400) for the `limit` busiest values of
-- source_as_number in [start, end): one row per (bucket, value), for a stacked chart.
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
