"""Training on several processes: ``torchrun --nproc_per_node N -m emoanim train generator ...``.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; ``start`` then joins the process group (NCCL on GPUs,
gloo on CPUs) and every other call here is a no-op in a plain single-process run. Each process reads
its own shard of every epoch's shuffled clip order (``torch.utils.data.DistributedSampler``), gradients
are averaged by ``DistributedDataParallel``, and only rank 0 logs and saves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from emoanim.errors import EmoAnimError


@dataclass(frozen=True)
class Processes:
    rank: int = 0  # this process
    world: int = 1  # processes in all
    device: str = "cpu"  # where this process trains

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs and saves."""
        return self.rank == 0

    def log(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """``log`` on rank 0, silence elsewhere."""
        return log if self.main else (lambda _: None)


def start() -> Processes:
    """Join the process group torchrun set up (or a single process when not under torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes()
    if not dist.is_available():
        raise EmoAnimError("this torch build has no torch.distributed: train with one process")
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    device = "cpu"
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return Processes(rank, dist.get_world_size(), device)


def stop(processes: Processes) -> None:
    if processes.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(module: torch.nn.Module, processes: Processes, find_unused: bool = False) -> torch.nn.Module:
    """``module`` under DistributedDataParallel when there are several processes (else itself)."""
    if processes.world <= 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(processes.device).index] if processes.device.startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def batches(num_items: int, batch_size: int, processes: Processes, seed: int) -> Iterator[list[int]]:
    """Endless batches of item indices for this process: every epoch a new seeded shuffle, split over
    the processes (each reads ``batch_size // world`` items per step, so the global batch stays
    ``batch_size`` whatever the number of processes)."""
    per_process = max(1, batch_size // processes.world)
    sampler = DistributedSampler(range(num_items), num_replicas=processes.world, rank=processes.rank,
                                 shuffle=True, seed=seed, drop_last=False)
    epoch, batch = 0, []
    while True:
        sampler.set_epoch(epoch)
        for index in sampler:
            batch.append(int(index))
            if len(batch) == per_process:
                yield batch
                batch = []
        epoch += 1
