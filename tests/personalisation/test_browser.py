"""End to end in headless Chromium against the example shop: the parka banner after
browsing winter jackets, the VIP navigation item, and the pop-up's consent form."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from omnichannel.consent.models import ConsentRecord
from omnichannel.profiles.models import Event, Identity, Preference, Profile
from omnichannel.profiles.services import identify
from tests.browser import console_errors, log_in
from tests.factories import SegmentFactory
from tests.personalisation.conftest import join_segment

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not __import__("tests.settings").settings.HAS_SHOP,
        reason="the placements are on the example shop's pages",
    ),
]

WAIT_SECONDS = 20
# Headless Chromium names itself HeadlessChrome, which page-view tracking skips as
# a bot; the tests browse as a desktop visitor.
DESKTOP_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


@pytest.fixture
def browser(chrome):
    chrome.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": DESKTOP_AGENT})
    return chrome


@pytest.fixture
def shop(db):
    from shop.models import Category
    from shop.personalisation import install_personalisation

    Category.objects.create(slug="winter-jackets", name="Winter Jackets")
    SegmentFactory(slug="rfm-champions", name="RFM: Champions")
    SegmentFactory(slug="cart-abandoners", name="Cart abandoners")
    tracked = {
        **settings.OMNICHANNEL,
        "TRACK_CATEGORY_PATHS": [r"^/categories/(?P<category>[-\w]+)/$"],
    }
    with override_settings(OMNICHANNEL=tracked):
        yield install_personalisation()


def wait(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(
        condition, message
    )


def find(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def visitor_profile(driver):
    visitor_id = driver.get_cookie("omni_vid")["value"]
    return Identity.objects.get(kind="visitor", value=visitor_id).profile


def test_winter_jacket_browser_sees_parka_banner(shop, live_server, browser):
    browser.get(live_server.url + "/")
    assert "Warm through the northern winter" in browser.page_source
    assert not find(browser, ".nav-personal")

    browser.get(live_server.url + "/categories/winter-jackets/")
    browser.get(live_server.url + "/")

    hero = find(browser, ".hero--personal .omnichannel-banner__title")
    assert [element.text for element in hero] == ["Parkas for the coldest days"]
    link = find(browser, ".hero--personal a")[0].get_attribute("href")
    assert link.endswith(
        f"/omnichannel/personalisation/banners/{shop['parkas'].pk}/click/"
    )
    wait(
        browser,
        lambda d: Event.objects.filter(name="banner_viewed").exists(),
        "the browser did not report the banner impression",
    )
    assert console_errors(browser) == []


def test_vip_sees_navigation_item(shop, live_server, browser, django_user_model):
    user = django_user_model.objects.create_user("vera", "vera@example.com", "pw")
    join_segment(identify(user=user, email="vera@example.com"), "rfm-champions")
    log_in(browser, live_server.url, user)

    browser.get(live_server.url + "/")

    items = find(browser, ".site-nav .nav-personal")
    assert [item.text for item in items] == ["VIP offers"]
    items[0].click()
    wait(
        browser,
        lambda d: d.current_url.endswith("/vip/"),
        "the VIP link did not lead to /vip/",
    )
    assert Event.objects.filter(name="banner_clicked", profile__user=user).exists()


def test_popup_appears_and_form_records_consent(shop, live_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/")
    profile = visitor_profile(browser)
    join_segment(profile, "cart-abandoners")
    Profile.objects.filter(pk=profile.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=3)
    )

    browser.get(live_server.url + "/")
    popup = wait(
        browser,
        lambda d: next(
            (e for e in find(d, "[data-omnichannel-popup]") if e.is_displayed()), None
        ),
        "the return-visit pop-up did not appear",
    )
    assert "Your cart ships free" in popup.text
    popup.find_element(By.NAME, "email").send_keys("pia@example.com")
    popup.find_element(By.CSS_SELECTOR, "input[value='Knitwear']").click()
    popup.find_element(By.NAME, "consent").click()
    popup.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait(
        browser,
        lambda d: find(d, ".omnichannel-popup__thanks"),
        "the pop-up form did not show its thanks",
    )
    record = ConsentRecord.objects.get(source="popup:cart-free-shipping")
    assert record.granted is True
    assert record.channel == "email"
    assert record.address == "pia@example.com"
    assert (
        record.proof["wording"] == "Email me offers and news from Nordlicht Outfitters."
    )
    assert record.profile_id == visitor_profile(browser).pk
    assert Preference.objects.get(profile=record.profile).value == "Knitwear"
    assert Event.objects.filter(name="popup_viewed", profile=record.profile).exists()
