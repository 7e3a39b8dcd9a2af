"""All I/O. Adapters take their client in __init__, handle pagination and limits, and decide nothing."""
