"""cost-janitor: an event-driven cost janitor for ML infrastructure on AWS."""

__version__ = "0.1.0"
