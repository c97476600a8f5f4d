"""App keys for resources the factory owns (kept apart so views can import them cycle-free)."""

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

executor_key = web.AppKey("executor", ThreadPoolExecutor)
