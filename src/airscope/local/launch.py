"""``python -m airscope.local.launch ENV_FILE ARGV...``: exec ARGV with the environment in ENV_FILE.

supervisord's own ``environment=`` setting would put every secret (database passwords, the JWT
secret) into its config file and needs its own quoting; a JSON file readable by its owner only does
neither. The exec leaves no process in between: the program's pid is the service's.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: python -m airscope.local.launch ENV_FILE ARGV...")
    with open(argv[0]) as file:
        env = json.load(file)
    os.execvpe(argv[1], argv[1:], env)


if __name__ == "__main__":
    main(sys.argv[1:])
