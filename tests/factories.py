"""Factories for the app's models."""

from decimal import Decimal

import factory
from django.utils import timezone

from omnichannel.experiments.models import Experiment, Variant
from omnichannel.offers.models import Offer
from omnichannel.profiles.models import Event, Identity, Profile


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    first_name = factory.Faker("first_name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    profile = factory.SubFactory(ProfileFactory)
    kind = Identity.Kind.EMAIL
    value = factory.Sequence(lambda n: f"customer{n}@example.com")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    profile = factory.SubFactory(ProfileFactory)
    name = "page_viewed"
    occurred_at = factory.LazyFunction(timezone.now)


class OrderEventFactory(EventFactory):
    name = "order_placed"
    revenue = Decimal("10.00")
    currency = "EUR"
    object_type = "order"
    object_id = factory.Sequence(lambda n: f"order-{n}")


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    key = factory.Sequence(lambda n: f"experiment-{n}")
    name = factory.Sequence(lambda n: f"Experiment {n}")
    status = Experiment.Status.RUNNING


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    experiment = factory.SubFactory(ExperimentFactory)
    key = factory.Sequence(lambda n: f"variant-{n}")
    weight = 1


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    slug = factory.Sequence(lambda n: f"offer-{n}")
    name = factory.Sequence(lambda n: f"Offer {n}")
    kind = Offer.Kind.PERCENT
    value = Decimal("10.00")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "omnichannel.Segment"

    name = factory.Sequence(lambda n: f"Segment {n}")
    slug = factory.Sequence(lambda n: f"segment-{n}")


class AudienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "omnichannel.Audience"

    name = factory.Sequence(lambda n: f"Audience {n}")
    segment = factory.SubFactory(SegmentFactory)
    platform = "meta"
    external_id = factory.Sequence(lambda n: f"2385123456789{n:04d}")
