-- Alerts per `step`-second bucket for the `limit` busiest source IPs in [start, end).
-- One row per (bucket, value), for a stacked chart; step is e.g. 3600 (hourly) or 86400 (daily).
-- params: start end step limit
SELECT
    toDateTime(intDiv(toUInt32(start_at), %(step)s) * %(step)s) AS bucket,
    source_ip AS value,
    count() AS alerts
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
  AND source_ip IN
  (
      SELECT source_ip
      FROM alerts FINAL
      WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s) AND source_ip != ''
      GROUP BY source_ip
      ORDER BY count() DESC, source_ip
      LIMIT %(limit)s
  )
GROUP BY bucket, value
ORDER BY bucket, alerts DESC, value
