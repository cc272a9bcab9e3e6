"""The platform's services, one package each (``airscope.services.<name>``, ``create_app()``).

What they share lives in ``common``: the JSON error shape and configuration from the environment.
"""
