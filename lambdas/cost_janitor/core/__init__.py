"""Pure decisions: stdlib and pydantic only. No AWS, no environment, no clock, no logging."""
