"""Unrolling through time: the reference loop, the fused BPTT paths, masks and truncated BPTT."""
from .fused import fused_unroll
from .lengths import reverse_padded, step_mask
from .reference import Trace, unroll
from .truncated import truncated_bptt

__all__ = ["Trace", "fused_unroll", "reverse_padded", "step_mask", "truncated_bptt", "unroll"]
