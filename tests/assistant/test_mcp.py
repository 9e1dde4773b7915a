"""The MCP server, spawned as ``manage.py omnichannel_mcp`` and driven by the SDK's
own client over stdio.

The subprocess cannot see the test's transaction, so these tests commit their data
(``transactional_db``). On SQLite they copy the test database to a file the server
opens, and on PostgreSQL the server opens the test database by name. Each test
starts a Django process (about 3 CPU seconds), so the calls share few sessions.
"""

import asyncio
import json
import os
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from mcp import ClientSession, StdioServerParameters, stdio_client

from omnichannel.assistant.models import McpCall
from omnichannel.authentication import create_api_key
from omnichannel.experiments.models import Experiment, Variant
from omnichannel.profiles.models import APIKey
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop_data():
    anna = ProfileFactory(first_name="Anna", last_name="Lee", email="anna@example.com")
    ProfileFactory(first_name="Bob", email="bob@example.com")
    OrderEventFactory(profile=anna, object_id="1001", revenue=Decimal("59.90"))
    vip = Segment.objects.create(name="VIP", slug="vip", rules={})
    SegmentMembership.objects.create(segment=vip, profile=anna)
    experiment = Experiment.objects.create(key="subject-test", name="Subject test")
    Variant.objects.create(experiment=experiment, key="control", is_control=True)
    Variant.objects.create(experiment=experiment, key="b")
    return anna


def _database_env(tmp_path):
    if connection.vendor == "sqlite":
        path = tmp_path / "mcp.sqlite3"
        target = sqlite3.connect(path)
        connection.ensure_connection()
        connection.connection.backup(target)
        target.close()
        return {"OMNICHANNEL_MCP_SQLITE": str(path)}
    return {"OMNICHANNEL_MCP_DB_NAME": connection.settings_dict["NAME"]}


def run_session(tmp_path, raw_key, calls):
    """Start the server, make ``calls`` and return the results by tool name.

    A call is a (tool name, arguments) pair, or a function to run between calls.
    """
    env = {
        **os.environ,
        **_database_env(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.assistant.mcp_settings",
        "OMNICHANNEL_MCP_API_KEY": raw_key,
        "PYTHONPATH": str(ROOT),
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "django", "omnichannel_mcp"],
        env=env,
        cwd=str(ROOT),
    )

    async def session():
        results = {}
        with open(tmp_path / "stderr.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as client:
                    await client.initialize()
                    tools = await client.list_tools()
                    results["tools"] = sorted(tool.name for tool in tools.tools)
                    for call in calls:
                        if callable(call):
                            # Django's ORM refuses to run inside an event loop.
                            await asyncio.to_thread(call)
                            continue
                        name, arguments = call
                        results[name] = await client.call_tool(name, arguments)
        return results

    return asyncio.run(asyncio.wait_for(session(), timeout=60))


def payload(result):
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_mcp_tools_over_stdio(tmp_path, shop_data):
    key, raw_key = create_api_key("agent", ["mcp:read"])

    results = run_session(
        tmp_path,
        raw_key,
        [
            ("find_customers", {"query": "anna@example.com"}),
            ("customer_360", {"customer_id": str(shop_data.uuid)}),
            ("segment_sizes", {}),
            ("segment_members", {"slug": "vip"}),
            ("journey_results", {"days": 7}),
            ("experiment_results", {"key": "subject-test"}),
        ],
    )

    assert results["tools"] == [
        "customer_360",
        "experiment_results",
        "find_customers",
        "journey_results",
        "segment_members",
        "segment_sizes",
    ]
    found = payload(results["find_customers"])
    assert found["count"] == 1
    assert found["customers"][0]["customer_id"] == str(shop_data.uuid)
    assert found["customers"][0]["email"] == "a***@example.com"
    assert found["customers"][0]["name"] == "A***"
    view = payload(results["customer_360"])
    assert view["recent_orders"][0]["order_id"] == "1001"
    assert view["profile"]["email"] == "a***@example.com"
    sizes = payload(results["segment_sizes"])
    assert [(s["slug"], s["size"]) for s in sizes["segments"]] == [("vip", 1)]
    members = payload(results["segment_members"])
    assert members["size"] == 1
    assert members["members"][0]["customer_id"] == str(shop_data.uuid)
    assert payload(results["journey_results"])["journeys"] == []
    experiment = payload(results["experiment_results"])
    assert [arm["arm"] for arm in experiment["arms"]] == ["control", "b"]

    # The audit log is in the server's database: read it back from the copy.
    calls = _audit_rows(tmp_path)
    assert [row[0] for row in calls] == [
        "find_customers",
        "customer_360",
        "segment_sizes",
        "segment_members",
        "journey_results",
        "experiment_results",
    ]
    assert all(row[1] == key.prefix for row in calls)
    assert json.loads(calls[0][2]) == {"query": "a***@example.com", "limit": 10}


def _audit_rows(tmp_path):
    if connection.vendor != "sqlite":
        return [
            (c.tool, c.key_prefix, json.dumps(c.arguments), c.succeeded)
            for c in McpCall.objects.order_by("id")
        ]
    database = sqlite3.connect(tmp_path / "mcp.sqlite3")
    try:
        return database.execute(
            "SELECT tool, key_prefix, arguments, succeeded FROM omnichannel_mcpcall "
            "ORDER BY id"
        ).fetchall()
    finally:
        database.close()


def test_mcp_command_rejects_key_without_scope(tmp_path, shop_data):
    import subprocess

    _key, raw_key = create_api_key("reader", ["profiles:read"])
    env = {
        **os.environ,
        **_database_env(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.assistant.mcp_settings",
        "OMNICHANNEL_MCP_API_KEY": raw_key,
    }

    done = subprocess.run(
        [sys.executable, "-m", "django", "omnichannel_mcp"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1
    assert "lacks the scope 'mcp:read'" in done.stderr
    assert done.stdout == ""


def test_mcp_command_needs_key(tmp_path):
    import subprocess

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("OMNICHANNEL_MCP_API_KEY", None)

    done = subprocess.run(
        [sys.executable, "-m", "django", "omnichannel_mcp"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1
    assert "OMNICHANNEL_MCP_API_KEY is empty" in done.stderr


def test_mcp_reports_bad_arguments_and_revoked_key(tmp_path, shop_data):
    key, raw_key = create_api_key("agent", ["mcp:read"])

    def revoke():
        if connection.vendor == "sqlite":
            database = sqlite3.connect(tmp_path / "mcp.sqlite3")
            with database:
                database.execute(
                    "UPDATE omnichannel_apikey SET revoked_at = ? WHERE id = ?",
                    (timezone.now().isoformat(), key.pk),
                )
            database.close()
        else:
            APIKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
            connection.close()

    results = run_session(
        tmp_path,
        raw_key,
        [
            ("customer_360", {"customer_id": "not-a-uuid"}),
            ("segment_members", {"slug": "nobody"}),
            ("find_customers", {"query": "anna", "limit": 100000}),
            ("segment_sizes", {}),
            revoke,
            ("journey_results", {}),
        ],
    )

    assert results["customer_360"].is_error
    assert "not a customer id" in results["customer_360"].content[0].text
    assert (
        "No segment has the slug 'nobody'" in results["segment_members"].content[0].text
    )
    assert "from 1 to 200" in results["find_customers"].content[0].text
    assert not results["segment_sizes"].is_error
    assert results["journey_results"].is_error
    assert "revoked" in results["journey_results"].content[0].text
    succeeded = [row[3] for row in _audit_rows(tmp_path)]
    assert succeeded == [0, 0, 0, 1, 0]
