"""synsec's CrowdSec-LAPI-compatible API: bouncer routes over a DecisionView, plus ccscli routes."""
