"""Imported once by `newsingest ingest`'s fork server, so that its pool processes start warm.

Importing this builds the gazetteer (~0.4 s of CPU); every pool process is then forked from the
server with it, and with the modules the server imported, instead of building and importing them
each (~0.95 s of CPU a process when spawned).
"""

from worker.pipeline.gazetteer import load_gazetteer

load_gazetteer()
