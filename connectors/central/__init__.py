"""`synsec central`: the crowd's central side, speaking CrowdSec's Central API (CAPI v2) — see docs/crowd.md."""
