"""`distinct` (CrowdSec `Uniq`): an event whose distinct value was already poured in this bucket is dropped
before the pour — it is not counted and does not reset the bucket's timer."""

from __future__ import annotations

__all__ = ["element"]



def element(spec, evt):
    """The event's distinct value; None when the expression fails (CrowdSec then pours the event anyway).
    A non-string result reads as "" (CrowdSec's getElement)."""
    try:
        value = spec.distinct(evt)
    except Exception:
        return None
    return value if isinstance(value, str) else ""
