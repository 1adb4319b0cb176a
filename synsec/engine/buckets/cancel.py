"""`cancel_on` (CrowdSec `CancelOnFilter`, reset_filter.go): a poured event matching it kills the bucket
without an overflow. A failing or non-boolean expression does not cancel."""

from __future__ import annotations

__all__ = ["cancels"]


def cancels(spec, evt) -> bool:
    try:
        return spec.cancel_on(evt) is True
    except Exception:
        return False
