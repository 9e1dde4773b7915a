from omnichannel.journeys.models import Journey
from omnichannel.journeys.services import publish


def make_journey(graph, *, slug="test-journey", trigger_type="manual", **fields):
    journey = Journey.objects.create(
        name=slug.replace("-", " ").title(),
        slug=slug,
        trigger_type=trigger_type,
        draft_graph=graph,
        **fields,
    )
    publish(journey)
    return journey
