"""The engine's core, the bottom layer: the run context, history and replay, serialization,
the step call, the run loop, workflow registration and settings (`conf`), with the store
(`store/`, every SQL statement) beside it.

Its modules are internal (leading underscore); application code uses the public face in
`durable`. Nothing here imports a package above it (primitives, queues, schedules,
operations, executors, observability, debugging).
"""
