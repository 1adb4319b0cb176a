"""The notification `format` evaluator: CrowdSec's shipped templates render as Go's text/template would, and
notification files are checked at load (errors name file, line and field)."""

from __future__ import annotations

import json

import pytest

from synsec.content.notifications import load_notifications
from synsec.engine.errors import ErrorCollector
from synsec.engine.notify_template import TemplateError, compile_template, render

ALERTS = [{"scenario": "crowdsecurity/ssh-bf", "machine_id": "m1", "source": {"cn": "FR", "value": "192.0.2.1"},
           "decisions": [{"value": "192.0.2.1", "type": "ban", "duration": "4h", "scenario": "crowdsecurity/ssh-bf"}]},
          {"scenario": "x/y", "machine_id": "m2", "source": {"cn": "", "value": "192.0.2.2"},
           "decisions": [{"value": "192.0.2.2", "type": "captcha", "duration": "1h", "scenario": "x/y"}]}]
SLACK = """{{range . -}}
{{$alert := . -}}
{{range .Decisions -}}
{{if $alert.Source.Cn -}}
:flag-{{$alert.Source.Cn}}: {{.Value}} will get {{.Type}} for next {{.Duration}} for triggering {{.Scenario}} on machine '{{$alert.MachineID}}'.{{end}}
{{if not $alert.Source.Cn -}}
:pirate_flag: {{.Value}} will get {{.Type}} for next {{.Duration}} for triggering {{.Scenario}} on machine '{{$alert.MachineID}}'.{{end}}
{{end -}}
{{end -}}
"""


def test_crowdsec_default_templates():
    """The http/splunk `{{.|toJson}}`, the one-line range template and slack's flag template."""
    assert json.loads(render(compile_template("{{.|toJson}}"), ALERTS)) == ALERTS
    one = ("{{range . -}} {{$alert := . -}} {{range .Decisions -}} {{.Value}} will get {{.Type}} for next "
           "{{.Duration}} for triggering {{.Scenario}}.{{end -}}{{end -}}")
    assert render(compile_template(one), ALERTS) == ("192.0.2.1 will get ban for next 4h for triggering "
                                                    "crowdsecurity/ssh-bf.192.0.2.2 will get captcha for next 1h "
                                                    "for triggering x/y.")
    out = render(compile_template(SLACK), ALERTS)
    assert ":flag-FR: 192.0.2.1 will get ban for next 4h for triggering crowdsecurity/ssh-bf on machine 'm1'." in out
    assert ":pirate_flag: 192.0.2.2 will get captcha for next 1h for triggering x/y on machine 'm2'." in out
    assert ":pirate_flag: 192.0.2.1" not in out


def test_functions_variables_and_else():
    tpl = compile_template('{{len .}}:{{if gt (len .) 1}}many{{else if eq (len .) 1}}one{{else}}none{{end}} '
                           '{{range $i, $a := .}}{{$i}}={{$a.Scenario | upper}} {{else}}empty{{end}}'
                           '{{printf "%s-%d" "a" 3}} {{with .}}{{index . 0 "machine_id"}}{{end}}')
    assert render(tpl, ALERTS) == "2:many 0=CROWDSECURITY/SSH-BF 1=X/Y a-3 m1"
    assert render(tpl, []) == "0:none emptya-3 "


@pytest.mark.parametrize("text, message", [
    ("{{range .}}", "has no {{end}}"), ("{{.Foo", "unclosed action"), ("{{exec}}", 'function "exec" not defined'),
    ("{{$x}}", "undefined variable: $x"), ("{{end}}", "unexpected {{end}}"), ("a\n{{if}}{{end}}", "line 2"),
    ('{{template "x"}}', "not supported")])
def test_syntax_errors_name_their_line(text, message):
    with pytest.raises(TemplateError, match=None) as err:
        compile_template(text)
    assert message in str(err.value)


def test_no_python_attributes():
    """A field reads only dict keys: no attribute of a Python object, no dunder."""
    for text in ("{{.__class__}}", "{{.Decisions.__len__}}", "{{(index . 0).keys}}"):
        try:
            out = render(compile_template(text), ALERTS)
        except TemplateError:
            continue
        assert "<" not in out.replace("<no value>", ""), out


def test_bounds():
    with pytest.raises(TemplateError, match="output exceeds"):
        render(compile_template("{{range 100}}{{$.}}{{end}}"), "x" * 100, max_output=1000)


def test_notification_files_errors_name_file_line_field():
    """Unknown keys, bad types, a missing url and a template error inside a block scalar, each at its line."""
    text = ("type: http\nname: h\nformat: |\n  ok\n  {{range .}}\nurl: ftp://x\nmethod: BREW\nbogus: 1\n"
            "---\ntype: email\nname: e\nsmtp_host: 127.0.0.1\nsender_email: a@b\nreceiver_emails: [c@d]\n"
            "encryption_type: tls\n---\ntype: pager\nname: p\n---\ntype: file\nname: f\n"
            "---\ntype: file\nname: ok\nlog_path: /tmp/x.log\nrotation: {enabled: true}\n")
    errors = ErrorCollector()
    specs = load_notifications([("n/all.yaml", text)], errors)
    msgs = [str(e) for e in errors.errors]
    assert any(m.startswith("n/all.yaml:5: format: template:") and "{{end}}" in m for m in msgs), msgs
    assert any(m.startswith("n/all.yaml:6: url:") for m in msgs), msgs
    assert any(m.startswith("n/all.yaml:7: method:") for m in msgs), msgs
    assert any(m.startswith("n/all.yaml:8: bogus: unknown field") for m in msgs), msgs
    assert any(m.startswith("n/all.yaml:15: encryption_type:") for m in msgs), msgs
    assert any(m.startswith("n/all.yaml:17: type: unknown notification type 'pager'") for m in msgs), msgs
    assert any("n/all.yaml:20" in m and "log_path" in m for m in msgs), msgs
    assert sorted(specs) == ["ok"] and specs["ok"].options["rotation"]["max_size"] == 500
