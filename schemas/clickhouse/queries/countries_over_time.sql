-- Alerts per `step`-second bucket for the `limit` busiest source countries in [start, end).
-- One row per (bucket, value), for a stacked chart; step is e.g. 3600 (hourly) or 86400 (daily).
-- params: start end step limit
SELECT
    toDateTime(intDiv(toUInt32(start_at), %(step)s) * %(step)s) AS bucket,
    source_country AS value,
    count() AS alerts
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
  AND source_country IN
  (
      SELECT source_country
      FROM alerts FINAL
      WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s) AND source_country != ''
      GROUP BY source_country
      ORDER BY count() DESC, source_country
      LIMIT %(limit)s
  )
GROUP BY bucket, value
ORDER BY bucket, alerts DESC, value
