"""The exceptions newsingest raises on purpose (the hierarchy is drawn in `worker/__init__`)."""


class NewsingestError(Exception):
    """Base of every error newsingest raises on purpose."""


class ConfigError(NewsingestError):
    """A setting is missing or malformed."""


class ServiceUnavailable(NewsingestError):
    """PostgreSQL or the broker cannot be reached."""
