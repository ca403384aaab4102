"""The streaming core (synchronous, talks to the model): config, stitcher, recognizer with its hop
step, batching engine, whole-file streaming. No sockets, threads or asyncio."""
