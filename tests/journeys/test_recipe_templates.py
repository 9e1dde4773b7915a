"""The message templates the recipes install read well with and without data."""

import pytest


@pytest.mark.parametrize(
    ("recommendations", "expected"),
    [
        ([{"name": "Parka"}], "<li>Parka</li>"),
        ([], 'See what is new: <a href="https://shop.example/">'),
    ],
)
def test_win_back_body_without_products_still_reads(recommendations, expected):
    from django.template import Context, Template

    from omnichannel.journeys.recipes import TEMPLATES

    body = Template(TEMPLATES["win-back"]["body"]).render(
        Context(
            {"recommendations": recommendations, "site_url": "https://shop.example"}
        )
    )

    assert expected in body
    assert "<ul></ul>" not in body
