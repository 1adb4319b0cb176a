"""CrowdsecCTI(ip): CrowdSec's CTI object shape, answered from a lookup the runner sets on the ExprContext."""

from __future__ import annotations

import pytest

from synsec.engine.cti import BlocklistEntry, SmokeItem, behaviour_of, smoke_item
from synsec.engine.errors import ExprError, Where
from synsec.engine.expr import ExprContext, compile_expr
from synsec.engine.model import Event

W = Where("scenarios/x.yaml", 3, "filter")
LABELS = {"crowdsecurity/ssh-bf": {"service": "ssh", "type": "bruteforce", "remediation": True},
          "crowdsecurity/http-probing": {"behavior": "http:scan", "label": "HTTP Probing"}}


def _ctx() -> ExprContext:
    listed = {"45.13.227.7": [BlocklistEntry("crowdsecurity/ssh-bf", 1_700_000_000.0, 1_700_090_000.0)]}
    return ExprContext(cti=lambda ip: smoke_item(ip, listed.get(ip, []), LABELS))


def run(text: str, ctx: ExprContext, ip: str = "45.13.227.7"):
    evt = Event()
    evt.Meta["source_ip"] = ip
    return compile_expr(text, where=W, ctx=ctx)(evt)


def test_listed_address_reads_as_crowdsec_cti_of_a_blocklisted_ip():
    """A listed address: community-blocklist classification, malicious, its scenario and behaviour."""
    ctx = _ctx()
    assert run("CrowdsecCTI(evt.Meta.source_ip).IsPartOfCommunityBlocklist()", ctx) is True
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetMaliciousnessScore()", ctx) == 1.0
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetBehaviors()", ctx) == ["ssh:bruteforce"]
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetBehaviours()", ctx) == ["ssh:bruteforce"]
    assert run("'crowdsecurity/ssh-bf' in CrowdsecCTI(evt.Meta.source_ip).GetAttackDetails()", ctx) is True
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetReputation()", ctx) == "malicious"
    assert run("CrowdsecCTI(evt.Meta.source_ip).Ip", ctx) == "45.13.227.7"
    assert run("CrowdsecCTI(evt.Meta.source_ip).Classifications.Classifications[0].Name", ctx) \
        == "community-blocklist"
    assert run("CrowdsecCTI(evt.Meta.source_ip).History.FirstSeen", ctx) == "2023-11-14T22:13:20Z"
    assert run("CrowdsecCTI(evt.Meta.source_ip).IsFalsePositive()", ctx) is False


def test_unknown_address_gets_the_empty_item():
    """An address the blocklist does not list reads as CrowdSec's empty SmokeItem (not nil)."""
    ctx = _ctx()
    assert run("CrowdsecCTI(evt.Meta.source_ip).IsPartOfCommunityBlocklist()", ctx, "8.8.8.8") is False
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetMaliciousnessScore()", ctx, "8.8.8.8") == 0.0
    assert run("CrowdsecCTI(evt.Meta.source_ip).GetReputation()", ctx, "8.8.8.8") == "unknown"
    assert run("len(CrowdsecCTI(evt.Meta.source_ip).GetBehaviors())", ctx, "8.8.8.8") == 0
    assert run("CrowdsecCTI('1.2.3.4').GetBackgroundNoiseScore()", ExprContext()) == 0


def test_unknown_method_is_a_load_error():
    """A method CrowdSec's SmokeItem does not have fails at compile time."""
    with pytest.raises(ExprError):
        compile_expr("CrowdsecCTI('1.2.3.4').DeleteEverything()", where=W, ctx=ExprContext())


def test_behaviour_from_labels():
    """`behavior` label wins; otherwise service:type, as the 1.4.6 hub labels read."""
    assert behaviour_of(LABELS["crowdsecurity/http-probing"]) == ("http:scan", "HTTP Probing")
    assert behaviour_of(LABELS["crowdsecurity/ssh-bf"]) == ("ssh:bruteforce", "")
    assert behaviour_of({}) == ("", "")
    assert SmokeItem().GetClassifications() == []
