"""`airscope fuzz` (its click code moves here from airscope.local.fuzz)."""

from airscope.local.fuzz import fuzz_command  # noqa: F401
