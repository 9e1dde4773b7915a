"""Journeys that ship ready to install, with the message templates they use.

``manage.py omnichannel_install_recipes`` creates what is missing and never overwrites
a journey or template a marketer has edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from omnichannel.journeys.models import Journey
from omnichannel.journeys.services import publish


@dataclass(frozen=True)
class Recipe:
    slug: str
    name: str
    description: str
    trigger_type: str
    trigger_config: dict[str, Any]
    graph: dict[str, Any]
    goal: dict[str, Any] = field(default_factory=dict)
    keyed_by_object: bool = False
    reentry_policy: str = "never"
    reentry_days: int = 0


#: Message templates, by slug: channel, name, subject and bodies. Bodies use the
#: Django template language; ``cart`` is the cart of a cart journey, ``code`` and
#: ``offer`` come from a send step that issues an offer.
TEMPLATES: dict[str, dict[str, Any]] = {
    "cart-reminder-1": {
        "channel": "email",
        "name": "Abandoned cart: first reminder",
        "subject": "{{ first_name|default:'Hello' }}, your cart is waiting",
        "body": (
            "<h1>Still thinking it over"
            "{% if first_name %}, {{ first_name }}{% endif %}?</h1>"
            "<p>You left these in your cart:</p><ul>{% for line in cart.lines %}"
            "<li>{{ line.quantity }} x {{ line.name }} ({{ line.unit_price }} "
            "{{ cart.currency }})</li>{% endfor %}</ul>"
            '<p><a href="{{ site_url }}/cart/">Back to your cart</a></p>'
        ),
    },
    "cart-reminder-reviews": {
        "channel": "email",
        "name": "Abandoned cart: second reminder with reviews",
        "subject": "What other customers say about your picks",
        "body": (
            "<p>Customers who bought {% for line in cart.lines %}{{ line.name }}"
            "{% if not forloop.last %}, {% endif %}{% endfor %} rate them highly.</p>"
            "{% if recommendations %}<p>You may also like:</p><ul>"
            "{% for product in recommendations %}<li>{{ product.name }}</li>"
            "{% endfor %}</ul>{% endif %}"
            '<p><a href="{{ site_url }}/cart/">Complete your order</a></p>'
        ),
    },
    "cart-reminder-sms": {
        "channel": "sms",
        "name": "Abandoned cart: SMS",
        "body": "Your cart is waiting: {{ site_url }}/cart/",
    },
    "cart-free-shipping-popup": {
        "channel": "onsite",
        "name": "Abandoned cart: free-shipping pop-up",
        "subject": "Free shipping today",
        "body": (
            "Complete your order today and shipping is on us"
            "{% if code %} with code {{ code }}{% endif %}."
        ),
    },
    "vip-welcome": {
        "channel": "email",
        "name": "VIP welcome",
        "subject": "Welcome to VIP, {{ first_name|default:'valued customer' }}",
        "body": (
            "<h1>You are one of our best customers.</h1><p>As a VIP you get early "
            "access to new arrivals"
            "{% if code %}: use {{ code }} at checkout{% endif %}.</p>"
        ),
    },
    "vip-birthday-sms": {
        "channel": "sms",
        "name": "VIP birthday SMS",
        "body": "Happy birthday{% if first_name %}, {{ first_name }}{% endif %}! "
        "A little gift waits for you: {{ site_url }}/vip/",
    },
    "win-back": {
        "channel": "email",
        "name": "Win-back for hibernating customers",
        "subject": "We miss you{% if first_name %}, {{ first_name }}{% endif %}",
        "body": (
            "<p>It has been a while.</p>"
            "{% if recommendations %}<p>Here is what is new:</p>"
            "<ul>{% for product in recommendations %}<li>{{ product.name }}</li>"
            "{% endfor %}</ul>"
            '{% else %}<p>See what is new: <a href="{{ site_url }}/">{{ site_url }}</a>'
            "</p>{% endif %}"
        ),
    },
    "review-request": {
        "channel": "email",
        "name": "Post-purchase review request",
        "subject": "How do you like your order?",
        "body": "<p>Tell other customers what you think of your purchase.</p>",
    },
    "back-in-stock-sms": {
        "channel": "sms",
        "name": "Back in stock: SMS",
        "body": "Good news: it is back in stock. {{ site_url }}/",
    },
    "back-in-stock-push": {
        "channel": "push",
        "name": "Back in stock: push",
        "subject": "Back in stock",
        "body": "The item you wanted is back.",
    },
}


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        slug="abandoned-cart",
        name="Omnichannel abandoned cart",
        description=(
            "1 hour after the cart's last change, an email with its contents; at 24 "
            "hours a second email with reviews if the first was opened, otherwise "
            "an SMS with a short link; at 3 days the free-shipping pop-up. Any order "
            "ends it."
        ),
        trigger_type="event",
        trigger_config={"event": "cart_updated"},
        keyed_by_object=True,
        reentry_policy="always",
        goal={"events": ["order_placed", "cart_converted"]},
        graph={
            "start": "wait_1h",
            "steps": {
                "wait_1h": {
                    "type": "wait",
                    "duration": "PT1H",
                    "anchor": "trigger",
                    "next": "email_1",
                },
                "email_1": {
                    "type": "send",
                    "channel": "email",
                    "template": "cart-reminder-1",
                    "next": "wait_24h",
                },
                "wait_24h": {
                    "type": "wait",
                    "duration": "PT24H",
                    "anchor": "trigger",
                    "next": "opened",
                },
                "opened": {
                    "type": "branch",
                    "condition": {
                        "type": "message",
                        "step": "email_1",
                        "action": "opened",
                    },
                    "yes": "email_2",
                    "no": "sms_1",
                },
                "email_2": {
                    "type": "send",
                    "channel": "email",
                    "template": "cart-reminder-reviews",
                    "next": "wait_72h",
                },
                "sms_1": {
                    "type": "send",
                    "channel": "sms",
                    "template": "cart-reminder-sms",
                    "next": "wait_72h",
                },
                "wait_72h": {
                    "type": "wait",
                    "duration": "PT72H",
                    "anchor": "trigger",
                    "next": "popup",
                },
                "popup": {
                    "type": "send",
                    "channel": "onsite",
                    "template": "cart-free-shipping-popup",
                    "offer": "cart-free-shipping",
                },
            },
        },
    ),
    Recipe(
        slug="vip-welcome",
        name="VIP loop: welcome",
        description=(
            "On entering Champions, a 'Welcome to VIP' email with early access at "
            "10:00 in the customer's time zone, and the 'vip' tag that shows the VIP "
            "offers item in the site navigation."
        ),
        trigger_type="segment_entered",
        trigger_config={"segment": "rfm-champions"},
        reentry_policy="after_days",
        reentry_days=60,
        graph={
            "start": "tag",
            "steps": {
                "tag": {"type": "update_profile", "add_tags": ["vip"], "next": "wait"},
                "wait": {"type": "wait", "until_time": "10:00", "next": "email"},
                "email": {
                    "type": "send",
                    "channel": "email",
                    "template": "vip-welcome",
                    "offer": "vip-early-access",
                },
            },
        },
    ),
    Recipe(
        slug="vip-birthday",
        name="VIP loop: birthday SMS",
        description="On a VIP's birthday, an SMS at 10:00 in their time zone.",
        trigger_type="date",
        trigger_config={
            "field": "birthday",
            "condition": {
                "type": "profile",
                "field": "tags",
                "op": "includes",
                "value": "vip",
            },
        },
        reentry_policy="after_days",
        reentry_days=300,
        graph={
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "until_time": "10:00", "next": "sms"},
                "sms": {
                    "type": "send",
                    "channel": "sms",
                    "template": "vip-birthday-sms",
                },
            },
        },
    ),
    Recipe(
        slug="vip-handwritten-note",
        name="VIP loop: handwritten note",
        description=(
            "When an order takes a customer's lifetime value past 1,000, staff are "
            "asked to send a handwritten note."
        ),
        trigger_type="event",
        trigger_config={
            "event": "order_placed",
            "condition": {
                "type": "aggregate",
                "measure": "total_spent",
                "op": "gte",
                "value": 1000,
            },
        },
        reentry_policy="never",
        graph={
            "start": "notify",
            "steps": {
                "notify": {
                    "type": "notify_staff",
                    "subject": "Send a handwritten thank-you note",
                    "message": "This customer's lifetime value passed 1,000.",
                }
            },
        },
    ),
    Recipe(
        slug="win-back",
        name="Win-back for hibernating customers",
        description="On entering Hibernating, a win-back email with recommendations.",
        trigger_type="segment_entered",
        trigger_config={"segment": "rfm-hibernating"},
        reentry_policy="after_days",
        reentry_days=90,
        goal={"events": ["order_placed"]},
        graph={
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "send_time": "best", "next": "email"},
                "email": {"type": "send", "channel": "email", "template": "win-back"},
            },
        },
    ),
    Recipe(
        slug="review-request",
        name="Post-purchase review request",
        description="Seven days after an order, ask for a review.",
        trigger_type="event",
        trigger_config={"event": "order_placed"},
        reentry_policy="after_days",
        reentry_days=30,
        graph={
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "duration": "P7D", "next": "email"},
                "email": {
                    "type": "send",
                    "channel": "email",
                    "template": "review-request",
                },
            },
        },
    ),
    Recipe(
        slug="back-in-stock",
        name="Back-in-stock alert",
        description="When a product a customer asked about is back, an SMS or a push.",
        trigger_type="event",
        trigger_config={"event": "back_in_stock"},
        reentry_policy="always",
        keyed_by_object=True,
        graph={
            "start": "alert",
            "steps": {
                "alert": {
                    "type": "best_channel",
                    "templates": {
                        "sms": "back-in-stock-sms",
                        "push": "back-in-stock-push",
                    },
                }
            },
        },
    ),
)


def install_templates() -> int:
    """Create the recipes' message templates that do not exist; return how many."""
    from omnichannel.channels.models import MessageTemplate

    created = 0
    for slug, spec in TEMPLATES.items():
        _template, was_created = MessageTemplate.objects.get_or_create(
            slug=slug, defaults={k: v for k, v in spec.items()}
        )
        created += was_created
    return created


def install_recipes(
    *, activate: bool = True, only: list[str] | None = None
) -> list[Journey]:
    """Create and publish the recipe journeys that do not exist yet."""
    from omnichannel.offers.install import install_offers

    installed = []
    with transaction.atomic():
        install_templates()
        for recipe in RECIPES:
            if only and recipe.slug not in only:
                continue
            # The offers the recipe's send steps issue, so that its messages can
            # carry their codes.
            install_offers(only=_offers_of(recipe))
            if Journey.objects.filter(slug=recipe.slug).exists():
                continue
            journey = Journey.objects.create(
                name=recipe.name,
                slug=recipe.slug,
                description=recipe.description,
                trigger_type=recipe.trigger_type,
                trigger_config=recipe.trigger_config,
                keyed_by_object=recipe.keyed_by_object,
                goal=recipe.goal,
                reentry_policy=recipe.reentry_policy,
                reentry_days=recipe.reentry_days,
                draft_graph=recipe.graph,
            )
            if _trigger_ready(recipe):
                publish(journey, activate=activate)
            installed.append(journey)
    return installed


def _offers_of(recipe: Recipe) -> set[str]:
    return {
        step["offer"] for step in recipe.graph["steps"].values() if step.get("offer")
    }


def _trigger_ready(recipe: Recipe) -> bool:
    """Tell whether what the trigger names exists, so the journey can be published."""
    if recipe.trigger_type in ("segment_entered", "segment_exited"):
        from omnichannel.segments.models import Segment

        return Segment.objects.filter(slug=recipe.trigger_config["segment"]).exists()
    return True
