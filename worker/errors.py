"""The exceptions newsingest raises on purpose (the hierarchy is drawn in `worker/__init__`)."""


class NewsingestError(Exception):
    """Base of every error newsingest raises on purpose."""


class ConfigError(NewsingestError):
    """A setting is missing or malformed."""


class UnreadableInput(ConfigError):
    """A file named as input could not be read (a usage error: exit code 2 in the CLI)."""


class ServiceUnavailable(NewsingestError):
    """PostgreSQL or the broker cannot be reached."""
