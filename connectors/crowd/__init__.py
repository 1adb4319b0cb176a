"""The installation side of the crowd: Central API client, what is shared, the persisted push queue, the pulled
community blocklist (CAPI decisions and CrowdsecCTI). docs/crowd.md, "The installation side"."""
