"""The agent console: access, CSRF, escaping, the customer panel and agent actions."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from omnichannel.conversations import services
from omnichannel.conversations.models import AgentAssignment, Conversation, Message
from omnichannel.predictions.models import RFMScore
from omnichannel.profiles.models import Event
from tests.factories import OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("owned")</script>'


@pytest.fixture(autouse=True)
def no_bot(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None)


@pytest.fixture
def customer():
    profile = ProfileFactory(
        first_name="Lena", last_name="Beispiel", email="lena@example.org"
    )
    OrderEventFactory(
        profile=profile,
        object_id="NL-1001",
        revenue=Decimal("59.00"),
        properties={"lines": [{"sku": "MUG-042", "name": "Mug", "quantity": 2}]},
    )
    OrderEventFactory(profile=profile, object_id="NL-1002", revenue=Decimal("12.50"))
    from omnichannel.profiles.services import recompute_aggregates

    recompute_aggregates([profile.pk])
    profile.refresh_from_db()
    return profile


@pytest.fixture
def conversation(customer):
    conversation, _token = services.start_conversation(
        customer, visitor_id="a" * 32, body="Where is my order?"
    )
    return conversation


def _url(name, conversation, *args):
    return reverse(f"omnichannel:{name}", args=[conversation.uuid, *args])


def test_console_redirects_anonymous_to_login(client):
    response = client.get(reverse("omnichannel:console"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_htmx_request_of_anonymous_redirects_whole_page(client):
    response = client.get(reverse("omnichannel:console_list"), HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == reverse("admin:login")


@pytest.mark.parametrize(
    ("is_staff", "has_permission"), [(False, True), (True, False), (False, False)]
)
def test_console_needs_staff_and_permission(
    client, django_user_model, conversation, is_staff, has_permission
):
    user = django_user_model.objects.create_user("eve", "eve@example.com", "pw")
    user.is_staff = is_staff
    user.save()
    if has_permission:
        user.user_permissions.add(
            Permission.objects.get(codename="handle_conversation")
        )
    client.force_login(user)

    pages = [
        client.get(reverse("omnichannel:console")),
        client.get(_url("console_conversation", conversation)),
        client.post(_url("console_reply", conversation), {"body": "hi"}),
        client.post(_url("console_close", conversation)),
        client.post(_url("console_assign", conversation), {"agent": "me"}),
        client.post(_url("console_coupon", conversation)),
    ]

    assert [page.status_code for page in pages] == [403] * 6
    assert "permission" in pages[0].content.decode()
    conversation.refresh_from_db()
    assert conversation.is_open
    assert conversation.messages.count() == 1


def test_superuser_may_use_console(client, django_user_model, conversation):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)

    assert client.get(reverse("omnichannel:console")).status_code == 200


def test_console_lists_waiting_conversation(agent_client, conversation):
    response = agent_client.get(reverse("omnichannel:console"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Lena Beispiel" in html
    assert "Where is my order?" in html
    assert str(conversation.uuid) in html
    assert "htmx" in html


def test_console_list_views(agent_client, conversation, agent, customer):
    bot_conversation, _ = services.start_conversation(customer, visitor_id="b" * 32)
    bot_conversation.handler = Conversation.Handler.BOT
    bot_conversation.save()

    def listed(view):
        html = agent_client.get(
            reverse("omnichannel:console_list"), {"view": view}
        ).content.decode()
        return {
            str(c.uuid) for c in (conversation, bot_conversation) if str(c.uuid) in html
        }

    assert listed("queue") == {str(conversation.uuid)}
    assert listed("bot") == {str(bot_conversation.uuid)}
    assert listed("mine") == set()
    services.assign(conversation, agent, by=agent)
    assert listed("mine") == {str(conversation.uuid)}
    services.close(conversation, by=agent)
    assert listed("closed") == {str(conversation.uuid)}
    assert listed("unknown-view") == set()


def test_conversation_shows_customer_value_and_orders(agent_client, conversation):
    response = agent_client.get(_url("console_conversation", conversation))

    html = response.content.decode()
    assert "71.50 EUR" in html
    assert "NL-1001" in html
    assert "NL-1002" in html
    assert "2 × Mug" in html
    assert "not scored" in html


def test_conversation_shows_churn_risk_when_scored(
    agent_client, conversation, customer
):
    from omnichannel.predictions.models import CustomerPrediction

    CustomerPrediction.objects.create(profile=customer, churn_risk=0.37)

    html = agent_client.get(_url("console_conversation", conversation)).content.decode()

    assert "37 %" in html


def test_htmx_detail_returns_partial(agent_client, conversation):
    response = agent_client.get(
        _url("console_conversation", conversation), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'class="oc-panel"' in html


def test_script_in_message_and_profile_is_escaped(agent_client, customer):
    customer.first_name = SCRIPT
    customer.save()
    conversation, _ = services.start_conversation(
        customer, visitor_id="c" * 32, body=f"Hi {SCRIPT}"
    )

    pages = [
        agent_client.get(reverse("omnichannel:console")),
        agent_client.get(_url("console_conversation", conversation)),
        agent_client.get(_url("console_messages", conversation)),
    ]

    for page in pages:
        html = page.content.decode()
        assert SCRIPT not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in (
        pages[1].content.decode()
    )


def test_reply_adds_agent_message_and_assigns(agent_client, conversation, agent):
    response = agent_client.post(
        _url("console_reply", conversation),
        {"body": "It ships today."},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "It ships today." in response.content.decode()
    reply = conversation.messages.get(author=Message.Author.AGENT)
    assert reply.agent == agent
    assert reply.channel == "chat"
    conversation.refresh_from_db()
    assert conversation.assigned_to == agent
    assert conversation.waiting_since is None
    assert AgentAssignment.objects.filter(
        conversation=conversation, agent=agent
    ).exists()


def test_reply_without_htmx_redirects(agent_client, conversation):
    response = agent_client.post(
        _url("console_reply", conversation), {"body": "Plain form post."}
    )

    assert response.status_code == 302
    assert response["Location"] == _url("console_conversation", conversation)


def test_reply_with_script_is_stored_as_text(agent_client, conversation):
    agent_client.post(
        _url("console_reply", conversation), {"body": SCRIPT}, HTTP_HX_REQUEST="true"
    )

    html = agent_client.get(_url("console_messages", conversation)).content.decode()
    assert conversation.messages.filter(body=SCRIPT).exists()
    assert SCRIPT not in html


@pytest.mark.parametrize(
    ("body", "text"),
    [("", "is empty"), ("x" * 2001, "the maximum is 2000")],
)
def test_reply_rejects_bad_body(agent_client, conversation, body, text):
    response = agent_client.post(
        _url("console_reply", conversation), {"body": body}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert text in response.content.decode()
    assert conversation.messages.count() == 1


def test_reply_to_closed_conversation_is_409(agent_client, conversation, agent):
    services.close(conversation, by=agent)

    response = agent_client.post(
        _url("console_reply", conversation), {"body": "late"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 409
    assert "reopen it" in response.content.decode()


def test_console_post_needs_csrf_token(agent, conversation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    without = client.post(_url("console_reply", conversation), {"body": "hi"})
    page = client.get(_url("console_conversation", conversation))
    token = page.cookies["csrftoken"].value
    with_header = client.post(
        _url("console_reply", conversation),
        {"body": "hi"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )

    assert without.status_code == 403
    assert with_header.status_code == 200
    assert conversation.messages.filter(author="agent").count() == 1


def test_console_page_sends_csrf_header_with_htmx(agent_client, conversation):
    html = agent_client.get(_url("console_conversation", conversation)).content.decode()

    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_console_refuses_get_on_actions(agent_client, conversation):
    response = agent_client.get(_url("console_close", conversation))

    assert response.status_code == 405


def test_assign_to_me_other_and_nobody(
    agent_client, conversation, agent, django_user_model
):
    colleague = django_user_model.objects.create_user(
        "omar", "omar@example.com", "pw", is_staff=True
    )
    colleague.user_permissions.add(
        Permission.objects.get(codename="handle_conversation")
    )
    url = _url("console_assign", conversation)

    agent_client.post(url, {"agent": "me"}, HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert conversation.assigned_to == agent

    agent_client.post(url, {"agent": str(colleague.pk)}, HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert conversation.assigned_to == colleague

    agent_client.post(url, {"agent": ""}, HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    history = list(
        AgentAssignment.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("agent_id", flat=True)
    )
    assert history == [agent.pk, colleague.pk, None]


def test_assign_rejects_unknown_and_unqualified_users(
    agent_client, conversation, django_user_model
):
    customer_user = django_user_model.objects.create_user("cust", "c@example.com")
    url = _url("console_assign", conversation)

    unknown = agent_client.post(url, {"agent": "999999"}, HTTP_HX_REQUEST="true")
    garbage = agent_client.post(url, {"agent": "abc"}, HTTP_HX_REQUEST="true")
    not_staff = agent_client.post(
        url, {"agent": str(customer_user.pk)}, HTTP_HX_REQUEST="true"
    )

    assert unknown.status_code == 400
    assert "No agent with id 999999" in unknown.content.decode()
    assert garbage.status_code == 400
    assert not_staff.status_code == 400
    assert "cannot be assigned" in not_staff.content.decode()
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_close_and_reopen(agent_client, conversation, agent):
    closed = agent_client.post(
        _url("console_close", conversation), HTTP_HX_REQUEST="true"
    )
    conversation.refresh_from_db()
    assert closed.status_code == 200
    assert conversation.status == "closed"
    assert conversation.closed_by == agent
    assert conversation.messages.filter(author="system").exists()

    agent_client.post(_url("console_reopen", conversation), HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.handler == "human"


def test_unknown_conversation_is_404(agent_client):
    url = reverse(
        "omnichannel:console_conversation",
        args=["00000000-0000-0000-0000-000000000000"],
    )

    assert agent_client.get(url).status_code == 404


def _make_vip(profile, group="champions"):
    RFMScore.objects.create(
        profile=profile,
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
        group=group,
    )


def test_vip_sees_thank_you_suggestion(agent_client, conversation, customer):
    _make_vip(customer)

    html = agent_client.get(_url("console_conversation", conversation)).content.decode()

    assert "VIP" in html
    assert "Thank-you with a coupon" in html
    assert "10% off" in html
    assert "Champions" in html


def test_non_vip_sees_no_suggestion(agent_client, conversation):
    html = agent_client.get(_url("console_conversation", conversation)).content.decode()

    assert "oc-suggestion" not in html


@pytest.mark.skipif(
    not __import__("tests.settings").settings.HAS_SHOP,
    reason="the example shop's adapter creates the codes",
)
def test_vip_coupon_created_in_shop_once(agent_client, conversation, customer):
    from shop.models import Discount

    _make_vip(customer)
    url = _url("console_coupon", conversation)

    first = agent_client.post(url, HTTP_HX_REQUEST="true")
    second = agent_client.post(url, HTTP_HX_REQUEST="true")

    conversation.refresh_from_db()
    code = conversation.coupon_code
    assert code.startswith("VIP-")
    discount = Discount.objects.get(code=code)
    assert discount.single_use is True
    assert discount.kind == "percent"
    assert discount.value == Decimal("10.00")
    assert discount.valid_until > timezone.now()
    assert Discount.objects.count() == 1
    for response in (first, second):
        assert response.status_code == 200
        html = response.content.decode()
        assert code in html
        assert "Hi Lena, thank you for your recent order!" in html
    assert Event.objects.filter(name="offer_issued", profile=customer).count() == 1


def test_vip_coupon_without_adapter_hook_explains(
    agent_client, conversation, customer, omnichannel_settings
):
    omnichannel_settings(
        SHOP_ADAPTERS={"auth.User": "omnichannel.integrations.base.OrderAdapter"}
    )
    _make_vip(customer)

    response = agent_client.post(
        _url("console_coupon", conversation), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert "cannot create discount codes" in html
    assert "create_discount_code()" in html
    conversation.refresh_from_db()
    assert conversation.coupon_code == ""


def test_vip_coupon_without_any_order_adapter_explains(
    agent_client, conversation, customer, omnichannel_settings
):
    omnichannel_settings(SHOP_ADAPTERS={})
    _make_vip(customer)

    response = agent_client.post(
        _url("console_coupon", conversation), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 409
    assert "No adapter in OMNICHANNEL" in response.content.decode()


def test_coupon_for_non_vip_is_409(agent_client, conversation):
    response = agent_client.post(
        _url("console_coupon", conversation), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 409
    assert "not a VIP" in response.content.decode()
