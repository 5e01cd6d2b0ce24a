"""Data-parallel training on torch.distributed: who am I, and the helpers that keep ranks in step.

Under ``torchrun`` (RANK, WORLD_SIZE and MASTER_ADDR in the environment) the process group is
started with gloo on CPU and nccl on CUDA; otherwise the run is a single process.
"""
import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Cluster:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj):
        """obj as rank 0 has it, on every rank."""
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


@contextmanager
def joined(device: str | torch.device = "cpu"):
    """Within: the Cluster of the process group torchrun describes in the environment, or a run alone.
    A group started here is left together and destroyed when the block ends normally (a rank that exits
    with gloo's threads alive can abort: "terminate called without an active exception"); after an error
    it is left as it is, since the other ranks may be waiting in a collective that will never come."""
    device = torch.device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield Cluster(device=device)
        return
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    yield Cluster(rank=dist.get_rank(), world=dist.get_world_size(), device=device)
    if started:
        dist.barrier()
        dist.destroy_process_group()
