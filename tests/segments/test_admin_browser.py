"""The rule builder in a real browser: htmx posts each change and swaps in the rows,
the live count and the explanation."""

import shutil

import pytest
from django.contrib.auth import get_user_model

from tests.factories import ProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not shutil.which("chromedriver"):
        pytest.skip("chromedriver is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = (
        shutil.which("chromium") or shutil.which("chromium-browser") or ""
    )
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
    ):
        options.add_argument(argument)
    # An explicit driver keeps Selenium from looking one up on the internet.
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver"))
    )
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def log_in(browser, live_server):
    get_user_model().objects.create_superuser(
        "staff", "staff@example.com", "pw-for-tests"
    )
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element("name", "username").send_keys("staff")
    browser.find_element("name", "password").send_keys("pw-for-tests")
    browser.find_element("css selector", "input[type=submit]").click()
    # Wait for the admin index, so the next page is not opened before the session
    # cookie of the login is set.
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located(("id", "user-tools"))
    )


def wait_for(browser, css, text):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element(("css selector", css), text)
    )


def test_builder_live_count_in_browser(browser, live_server, tmp_path):
    from selenium.webdriver.support.ui import Select

    ProfileFactory(country="DE", email="anna@example.com", first_name="Anna")
    ProfileFactory(country="DE")
    ProfileFactory(country="FR")
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/omnichannel/segment/add/")

    browser.find_element("css selector", "button[value='add-condition:0']").click()
    value = browser.find_element("name", "b0-0-value")
    value.send_keys("DE")
    browser.find_element("name", "name").click()  # leaving the input fires change
    wait_for(browser, "#omni-count", "2")
    wait_for(browser, "#omni-sample", "Anna")

    # Logging in gave the staff user a profile too, without a country.
    Select(browser.find_element("name", "b0-0-op")).select_by_value("ne")
    wait_for(browser, "#omni-count", "2")
    wait_for(browser, "#omni-sample", "staff@example.com")

    explain = browser.find_element("name", "explain_profile")
    explain.send_keys("anna@example.com")
    browser.find_element("name", "name").click()
    wait_for(browser, "#omni-explanation", "Country is DE")
    browser.save_screenshot(str(tmp_path / "builder.png"))

    browser.find_element("name", "name").send_keys("Not German")
    browser.find_element("name", "_save").click()
    wait_for(browser, ".messagelist", "was added successfully")


def test_change_page_renders_event_rows_and_chart(browser, live_server, tmp_path):
    from omnichannel.segments.defaults import default_segments
    from omnichannel.segments.membership import rebuild_segment
    from omnichannel.segments.models import Segment

    abandoners = next(s for s in default_segments() if s.slug == "cart-abandoners")
    segment = Segment.objects.create(
        name=abandoners.name, slug=abandoners.slug, rules=abandoners.rules
    )
    rebuild_segment(segment)
    log_in(browser, live_server)
    browser.get(f"{live_server.url}/admin/omnichannel/segment/{segment.pk}/change/")

    assert (
        browser.find_element("name", "b0-0-0-event").get_attribute("value")
        == "cart_updated"
    )
    assert (
        browser.find_element("name", "b0-0-0-excluding_last_value").get_attribute(
            "value"
        )
        == "1"
    )
    assert browser.find_element("css selector", "svg.omnichannel-size-chart")
    browser.save_screenshot(str(tmp_path / "change.png"))
