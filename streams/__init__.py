"""The shared base: record types, topics, the bus and settings. Imports nothing of ours."""
