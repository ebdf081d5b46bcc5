"""zstd for batches on the wire: claim checks and compressed messages, bounded when inflated."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# Largest batch a compressed message or claim may inflate to: a zstd frame can expand a
# thousandfold, so a hostile one must not be able to exhaust a worker's memory (the producer's
# batches stay under 4 MiB of text, see worker/inputs.py).
MAX_INFLATED_BYTES = 64 * 1024 * 1024


# Level 1: HTML batches shrink to about a fifth at ~400 MB/s; higher levels cost more CPU than the
# smaller payload saves (level 3 took 8.6 ms for a 3 MB batch, level 1 5.5 ms). With a checksum of
# the content: without one, a flipped byte inside a frame inflates to different bytes of the same
# length, and a page would be stored changed (a test flips one); XXH64 costs ~15 µs a 170 KB page.
_OPTIONS: dict[int, int] = {
    zstd.CompressionParameter.compression_level: 1,
    zstd.CompressionParameter.checksum_flag: 1,
}


def zstd_compress(body: bytes) -> bytes:
    """Compress a batch (or one page) at level 1, with a checksum of its content."""
    return zstd.compress(body, options=_OPTIONS)


def zstd_decompress(body: bytes, *, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a batch (or one page); ValueError if it is corrupt or would grow past `limit`."""
    inflater = zstd.ZstdDecompressor()
    try:
        inflated = inflater.decompress(body, max_length=limit)
    except zstd.ZstdError as exc:  # not a ValueError: callers treat bad input as ValueError
        msg = f"compressed data is corrupt: {exc}"
        raise ValueError(msg) from exc
    if not inflater.eof:
        msg = f"compressed data inflates past {limit} bytes"
        raise ValueError(msg)
    return inflated
