"""airscope: the PyAirtable platform's services and the observability stack that watches them."""

__version__ = "0.1.0"
