-- Everything stored about one source value (an IP, a range...): its alerts and the decisions they caused.
-- params: value
SELECT
    a.start_at,
    a.scenario,
    a.events_count,
    a.id AS alert_id,
    d.id AS decision_id,
    d.type AS decision,
    d.origin,
    d.until
FROM (SELECT * FROM alerts FINAL WHERE source_value = %(value)s) AS a
LEFT JOIN (SELECT id, alert_id, type, origin, until FROM decisions FINAL WHERE value = %(value)s) AS d
    ON a.id = d.alert_id
ORDER BY a.start_at, a.id, d.id
