"""What a workflow body calls besides steps: sleep, messages, events, streams, waiting for
children and for other parties, and their awaitable twins for `async def` workflows.

Each is an entry in the run's history (`durable.core._history.replay_or_run`), so it replays
exactly; application code reaches them through `durable` (`durable.sleep`, `durable.send`, ...).
"""
