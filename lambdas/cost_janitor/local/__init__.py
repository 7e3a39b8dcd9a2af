"""Local-only code, never shipped in the Lambda asset: the emulator (moto server made as strict as AWS), the Slack
stand-in and the demo."""
