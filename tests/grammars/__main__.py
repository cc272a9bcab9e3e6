"""``python -m tests.grammars``: vendor the grammars again from the lockfile (needs npm and the npm registry)."""

from tests.grammars import problems, vendor

vendor()
print("\n".join(problems()) or "tests/grammars/vendor/ matches the lockfile")
