"""Load the models of every domain so Django registers them under one app label."""

from omnichannel.predictions.models import *  # noqa: F401,F403
from omnichannel.profiles.models import Event, Identity, Profile, ProfileMerge  # noqa: F401
