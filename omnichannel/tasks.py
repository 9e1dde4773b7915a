"""Celery's ``autodiscover_tasks()`` imports this module: it registers every task.

The tasks live in the domain packages; importing them here lets a worker that only
runs ``app.autodiscover_tasks()`` know all of them.
"""

from omnichannel.assistant import tasks as assistant  # noqa: F401
from omnichannel.audiences import tasks as audiences  # noqa: F401
from omnichannel.channels import tasks as channels  # noqa: F401
from omnichannel.conversations import tasks as conversations  # noqa: F401
from omnichannel.experiments import tasks as experiments  # noqa: F401
from omnichannel.integrations import tasks as integrations  # noqa: F401
from omnichannel.journeys import tasks as journeys  # noqa: F401
from omnichannel.offers import tasks as offers  # noqa: F401
from omnichannel.ops import tasks as ops  # noqa: F401
from omnichannel.predictions import tasks as predictions  # noqa: F401
from omnichannel.profiles import tasks as profiles  # noqa: F401
from omnichannel.segments import tasks as segments  # noqa: F401
