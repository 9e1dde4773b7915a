"""The OpenAPI schema is valid; tests/security/test_schemathesis.py sends generated
requests against it."""

from django.core.management import call_command


def test_schema_generates_without_warnings(tmp_path):
    output = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(output))
    text = output.read_text()
    for path in ("/omnichannel/api/identify/", "/omnichannel/api/events/batch/"):
        assert path in text
    assert "bearer" in text
    assert "ChannelBe4Enum" not in text
    assert "MessageChannelEnum" in text
