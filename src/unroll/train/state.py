"""A training run's state as (tensors, JSON metadata): model, optimiser, schedule, RNG, progress.

Nested state dicts (optimiser, LR schedule) are split: every tensor goes to the tensors dict under a
path-like key and is replaced in the JSON by ``{"tensor": key}``; everything else stays JSON.
"""
import torch

_TENSOR = "tensor"


def split_tensors(obj, prefix: str, tensors: dict):
    """A JSON-ready copy of obj with each tensor moved into ``tensors`` under a key from ``prefix``."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().clone()
        return {_TENSOR: prefix}
    if isinstance(obj, dict):
        return {str(k): split_tensors(v, f"{prefix}/{k}", tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [split_tensors(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    return obj


def join_tensors(obj, tensors: dict):
    """The inverse of ``split_tensors`` (dict keys stay strings)."""
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]]
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def capture(model, optimizer, scheduler) -> tuple[dict, dict]:
    """(tensors, meta) holding everything that decides the rest of a run's arithmetic."""
    tensors = {f"model/{k}": v.detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = {
        "optimizer": split_tensors(optimizer.state_dict(), "optimizer", tensors),
        "scheduler": split_tensors(scheduler.state_dict(), "scheduler", tensors),
    }
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng/cuda"] = torch.cuda.get_rng_state()
    return tensors, meta


def restore(model, optimizer, scheduler, tensors: dict, meta: dict) -> None:
    """Put a captured state back into the same kind of model, optimiser and schedule."""
    prefix = "model/"
    model.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    optim_state = join_tensors(meta["optimizer"], tensors)
    optim_state["state"] = {int(k): v for k, v in optim_state["state"].items()}
    optimizer.load_state_dict(optim_state)
    scheduler.load_state_dict(join_tensors(meta["scheduler"], tensors))
    torch.set_rng_state(tensors["rng/torch"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])
