"""`airscope drill` and `airscope train`."""

from airscope.local.drills.run import drill_command  # noqa: F401
from airscope.local.drills.training import train_command  # noqa: F401
