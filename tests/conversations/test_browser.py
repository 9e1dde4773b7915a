"""End to end in headless Chromium: a customer chats from the shop, an agent answers
from the console, and markup in messages stays text on both sides."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from omnichannel.profiles.services import identify, recompute_aggregates
from tests.browser import console_errors, log_in
from tests.factories import OrderEventFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not __import__("tests.settings").settings.HAS_SHOP,
        reason="the chat widget is shown on the example shop's pages",
    ),
]

WAIT_SECONDS = 20
QUESTION = "Hello, where is my order NL-1002?"
PAYLOAD = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
ANSWER = "Hi Lena, NL-1002 left our warehouse today. <b>Thanks</b> for waiting!"


@pytest.fixture
def customer(django_user_model):
    user = django_user_model.objects.create_user(
        "lena", "lena@example.org", "pw", first_name="Lena", last_name="Beispiel"
    )
    profile = identify(user=user, email="lena@example.org")
    profile.first_name, profile.last_name = "Lena", "Beispiel"
    profile.save()
    OrderEventFactory(
        profile=profile,
        object_id="NL-1001",
        revenue=Decimal("59.00"),
        properties={"lines": [{"sku": "MUG-042", "name": "Mug", "quantity": 2}]},
    )
    OrderEventFactory(profile=profile, object_id="NL-1002", revenue=Decimal("12.50"))
    recompute_aggregates([profile.pk])
    return user


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user(
        "maja", "maja@example.com", "pw", first_name="Maja", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="handle_conversation"))
    return user


def _wait(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(
        condition, message
    )


def _texts(driver, selector):
    from selenium.webdriver.common.by import By

    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, selector)]


def _send_in_widget(driver, text):
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, ".omni-chat-input")
    box.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, ".omni-chat-send").click()
    _wait(
        driver,
        lambda d: text in _texts(d, ".omni-chat-customer .omni-chat-body"),
        f"the widget did not show the sent message {text!r}",
    )


def test_customer_and_agent_chat(chrome_factory, live_server, customer, staff):
    from selenium.webdriver.common.by import By

    # The customer opens the widget on the shop and writes twice.
    shopper = chrome_factory()
    log_in(shopper, live_server.url, customer)
    shopper.get(f"{live_server.url}/")
    _wait(
        shopper,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".omni-chat-launcher"),
        "the chat launcher did not appear on the shop page",
    )
    shopper.find_element(By.CSS_SELECTOR, ".omni-chat-launcher").click()
    _send_in_widget(shopper, QUESTION)
    _send_in_widget(shopper, PAYLOAD)

    # The agent sees the conversation with the customer's value and orders.
    agent = chrome_factory()
    log_in(agent, live_server.url, staff)
    agent.get(f"{live_server.url}{reverse('omnichannel:console')}")
    _wait(
        agent,
        lambda d: any("Lena" in t for t in _texts(d, ".oc-list-name")),
        "the console list did not show Lena's conversation",
    )
    agent.find_element(By.CSS_SELECTOR, ".oc-list-item a").click()
    _wait(
        agent,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#oc-customer .oc-ltv"),
        "the customer panel did not open",
    )
    assert agent.find_element(By.CSS_SELECTOR, "#oc-customer .oc-ltv").text == (
        "71.50 EUR"
    )
    orders = agent.find_element(By.CSS_SELECTOR, "#oc-orders").text
    assert "NL-1001" in orders
    assert "NL-1002" in orders
    assert "2 × Mug" in orders
    bodies = _texts(agent, ".oc-message-body")
    assert QUESTION in bodies
    assert PAYLOAD in bodies

    # The agent answers.
    agent.find_element(By.CSS_SELECTOR, "#oc-reply-body").send_keys(ANSWER)
    agent.find_element(By.CSS_SELECTOR, ".oc-reply button[type=submit]").click()
    _wait(
        agent,
        lambda d: ANSWER in _texts(d, ".oc-message-agent .oc-message-body"),
        "the console did not show the agent's answer",
    )

    # The customer sees the answer, with the agent's name, as text.
    _wait(
        shopper,
        lambda d: ANSWER in _texts(d, ".omni-chat-agent .omni-chat-body"),
        "the widget did not receive the agent's answer",
    )
    assert "Maja" in _texts(shopper, ".omni-chat-agent .omni-chat-author")

    # No markup from a message ran or became an element on either side.
    for driver, body_selector in (
        (shopper, ".omni-chat-body"),
        (agent, ".oc-message-body"),
    ):
        assert driver.execute_script("return window.pwned === undefined")
        assert driver.find_elements(By.CSS_SELECTOR, f"{body_selector} img") == []
        assert driver.find_elements(By.CSS_SELECTOR, f"{body_selector} script") == []
        assert driver.find_elements(By.CSS_SELECTOR, f"{body_selector} b") == []
    assert console_errors(shopper) == []
    assert console_errors(agent) == []

    # After a reload the widget shows the same conversation again.
    shopper.refresh()
    _wait(
        shopper,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".omni-chat-launcher"),
        "the chat launcher did not appear after the reload",
    )
    shopper.find_element(By.CSS_SELECTOR, ".omni-chat-launcher").click()
    _wait(
        shopper,
        lambda d: ANSWER in _texts(d, ".omni-chat-agent .omni-chat-body"),
        "the widget did not restore the conversation after a reload",
    )

    # When the agent closes the conversation, the customer is told and may start
    # a new one.
    agent.find_element(By.CSS_SELECTOR, "#oc-close button").click()
    _wait(
        shopper,
        lambda d: d.find_element(By.CSS_SELECTOR, ".omni-chat-restart").is_displayed(),
        "the widget did not offer a new conversation after the agent closed it",
    )
    assert "closed" in shopper.find_element(By.CSS_SELECTOR, ".omni-chat-status").text
