-- Top source autonomous systems in [start, end): alerts and distinct sources per AS number and name.
-- params: start end limit
SELECT
    source_as_number AS as_number,
    any(source_as_name) AS as_name,
    count() AS alerts,
    uniqExact(source_value) AS sources
FROM alerts FINAL
WHERE start_at >= toDateTime(%(start)s) AND start_at < toDateTime(%(end)s)
GROUP BY as_number
ORDER BY alerts DESC, as_number
LIMIT %(limit)s
