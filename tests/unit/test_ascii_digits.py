"""Numbers are ASCII digits only, as in Go: Unicode digits (Arabic-Indic `١٧`, superscript `²`) are neither
expr number literals nor CIDR prefixes read from a log line (Python's `str.isdigit` takes them)."""

from __future__ import annotations

import pytest

from synsec.engine.errors import ExprError, Where
from synsec.engine.expr import compile_expr
from synsec.engine.expr.helpers_net import ip_in_range, ip_to_range, parse_cidr
from synsec.engine.model import Event, Line

W = Where("t.yaml", 3, "filter")


@pytest.mark.parametrize("text", ["١٧ == 17", "evt.Meta.x == '' && ٣ > 1", "1.٥ > 1"])
def test_unicode_digits_are_not_expr_numbers(text):
    """An expression spelling a number with non-ASCII digits is a load error at its field, not a number."""
    with pytest.raises(ExprError) as err:
        compile_expr(text, where=W, params=("evt",))
    assert str(err.value).startswith("t.yaml:3: filter")


def test_ascii_numbers_still_compile():
    """The ASCII spelling of the same numbers compiles and evaluates as before."""
    assert compile_expr("17 == 17 && 1.5 > 1", where=W, params=("evt",))(Event(Line("x", "f", {}))) is True


@pytest.mark.parametrize("cidr", ["10.0.0.0/٨", "10.0.0.0/²", "10.0.0.0/8\u0660"])
def test_unicode_digit_prefix_is_not_a_cidr(cidr):
    """A CIDR prefix with Unicode digits (from a log line) is invalid: no network, IpInRange false."""
    assert parse_cidr(cidr) is None
    assert ip_in_range("10.1.2.3", cidr) is False


def test_unicode_digit_prefix_is_not_a_range_length():
    """IpToRange refuses a prefix length written with Unicode digits, accepts the ASCII one."""
    assert ip_to_range("10.1.2.3", "٢٤") == ""
    assert ip_to_range("10.1.2.3", "24") == "10.1.2.0/24"
