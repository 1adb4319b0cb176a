-- Alerts per hour and scenario in [start, end), from the `alerts_hourly` rollup (no scan of `alerts`).
-- `sources` is approximate (uniq) beyond a few thousand distinct sources per hour.
-- params: start end
SELECT
    hour,
    scenario,
    uniqExactMerge(alerts) AS alerts,
    uniqMerge(sources) AS sources
FROM alerts_hourly
WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(end)s)
GROUP BY hour, scenario
ORDER BY hour, alerts DESC, scenario
