-- Top source IPs in [start, end): alerts, distinct scenarios, country and AS, first and last alert.
-- params: start end limit
SELECT
    source_ip,
    count() AS alerts,
    uniqExact(scenario) AS scenarios,
    any(source_country) AS country,
    any(source_as_number) AS as_number,
    any(source_as_name) AS as_name,
    min(start_at) AS first_seen,
    max(stop_at) AS last_seen
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s) AND source_ip != ''
GROUP BY source_ip
ORDER BY alerts DESC, source_ip
LIMIT %(limit)s
