"""Load the models of every domain so Django registers them under one app label."""

from omnichannel.analytics.models import *  # noqa: F401,F403
from omnichannel.assistant.models import *  # noqa: F401,F403
from omnichannel.audiences.models import *  # noqa: F401,F403
from omnichannel.channels.models import *  # noqa: F401,F403
from omnichannel.consent.models import *  # noqa: F401,F403
from omnichannel.conversations.models import *  # noqa: F401,F403
from omnichannel.experiments.models import *  # noqa: F401,F403
from omnichannel.journeys.models import *  # noqa: F401,F403
from omnichannel.offers.models import *  # noqa: F401,F403
from omnichannel.ops.models import *  # noqa: F401,F403
from omnichannel.personalisation.models import *  # noqa: F401,F403
from omnichannel.predictions.models import *  # noqa: F401,F403
from omnichannel.profiles.models import *  # noqa: F401,F403
from omnichannel.segments.models import *  # noqa: F401,F403
