"""The one exception a user can act on.

Library code raises ``AirscopeError`` (or a subclass) with a message that names the cause and the
fix; ``airscope.cli`` turns it into a clean one-line error. Nothing below the CLI imports click.
"""

from __future__ import annotations


class AirscopeError(Exception):
    """A failure the user can fix; ``str()`` says what happened and what to do."""
