"""`airscope load` (its click code moves here from airscope.local.load)."""

from airscope.local.load import load_command  # noqa: F401
