"""The use cases, one module per capability, each with one entry `run(...)`: read (adapters) → decide (core) →
act (executor) → record and publish (delivery). Handlers, the CLI and the demo call these and nothing else."""
