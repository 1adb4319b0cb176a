-- Top source countries in [start, end) (ISO code, '' when GeoIP had no answer): alerts and distinct IPs.
-- params: start end limit
SELECT
    source_country AS country,
    count() AS alerts,
    uniqExact(source_value) AS sources
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
GROUP BY country
ORDER BY alerts DESC, country
LIMIT %(limit)s
