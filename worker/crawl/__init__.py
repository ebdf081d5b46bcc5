"""Scheduled crawls: sources as data (`sources`), a safe and polite httpx fetcher (`fetch`,
`politeness`), crawl state in PostgreSQL (`state`), the crawl of one source (`crawl`), and the
services, tasks and commands around them (`service`, `tasks`, `cli`).

This package imports nothing itself, so `newsingest --help` stays fast; import the modules.
"""
