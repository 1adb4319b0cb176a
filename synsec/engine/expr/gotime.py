"""Go's time.Time methods an expression may call on a time (`evt.Time.Hour()`, `evt.Time.Weekday().String()`).

A time is a timezone-aware `datetime` (synsec keeps event times in UTC); `Weekday()` and `Month()` return
Go's named integer types, whose only method is `String()`.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["Weekday", "Month", "TIME_METHODS", "TIME_METHOD_TYPES"]

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


class Weekday(int):
    """time.Weekday: Sunday is 0."""

    def String(self) -> str:        # noqa: N802 (Go's method name)
        return _DAYS[self]


class Month(int):
    """time.Month: January is 1."""

    def String(self) -> str:        # noqa: N802
        return _MONTHS[self - 1]


TIME_METHODS = {
    "Hour": lambda t: t.hour, "Minute": lambda t: t.minute, "Second": lambda t: t.second,
    "Day": lambda t: t.day, "Year": lambda t: t.year, "YearDay": lambda t: t.timetuple().tm_yday,
    "Unix": lambda t: int(t.timestamp() // 1), "Weekday": lambda t: Weekday((t.weekday() + 1) % 7),
    "Month": lambda t: Month(t.month),
}
# name -> (result type, number of arguments), as typeinfo.STRUCT_METHODS describes methods
TIME_METHOD_TYPES = {name: ("any" if name in ("Weekday", "Month") else "int", 0) for name in TIME_METHODS}


def call_time_method(t: datetime, name: str, args: tuple):
    """`t.Name()`; a TypeError (a runtime error) for a method Go's time.Time does not offer here."""
    fn = TIME_METHODS.get(name)
    if fn is None or args:
        raise TypeError(f"time.Time has no method {name} taking {len(args)} arguments")
    return fn(t)
