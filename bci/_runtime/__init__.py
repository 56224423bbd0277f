"""The real-time runtime: processing steps, statistics and the asyncio engine."""
