"""When a destination's answer about a delivery means it is in a final block.

One rule for the relay's deliverer and for direct writes (hub/usecases/write.py):
CONFIRMED, or DUPLICATE with the block that first applied it (a duplicate answered
before that block is known is still on its way).
"""

from __future__ import annotations

from tonglian.v1 import adapter_pb2

S = adapter_pb2


def submission_final(sub: adapter_pb2.Submission) -> bool:
    return sub.state == S.SUBMISSION_STATE_CONFIRMED or (
        sub.state == S.SUBMISSION_STATE_DUPLICATE and sub.block_height > 0
    )
