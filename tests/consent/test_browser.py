"""The consent pages reached from an email link work in a real browser.

Their forms are CSRF-protected, so they only work when the browser sends the page's
own origin with the POST; a strict referrer policy makes Chromium send "null".
"""

from urllib.parse import urlsplit

import pytest

from omnichannel.consent.double_opt_in import confirmation_url, request_email_opt_in
from omnichannel.consent.models import ConsentRecord
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import preference_centre_url
from omnichannel.profiles.services import identify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 20


def _local(url, live_server):
    # Links are absolute on the configured site; the browser opens the test server.
    return live_server.url + urlsplit(url).path


def _submit_and_wait(driver, text):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(
        lambda d: text in d.page_source or "403" in d.title,
        message=f"the page never showed {text!r}",
    )
    assert "CSRF" not in driver.page_source


def test_confirm_opt_in_button_grants_consent(chrome, live_server):
    profile = identify(email="mira.sample@example.com")
    opt_in = request_email_opt_in(profile, source="footer-form", send=False)

    chrome.get(_local(confirmation_url(opt_in), live_server))
    _submit_and_wait(chrome, "confirmed")

    assert has_consent(profile, "email") is True
    assert ConsentRecord.objects.get().source == "double-opt-in"


def test_preference_centre_save_withdraws_consent(chrome, live_server):
    from selenium.webdriver.common.by import By

    profile = identify(email="jonas.sample@example.com")
    record_consent(profile, "email", True, source="checkout")

    chrome.get(_local(preference_centre_url(profile), live_server))
    box = chrome.find_element(
        By.CSS_SELECTOR, "input[type=checkbox][name=channel_email]"
    )
    assert box.is_selected()
    box.click()
    _submit_and_wait(chrome, "are saved")

    assert has_consent(profile, "email") is False
