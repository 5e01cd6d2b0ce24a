"""A trained recogniser on disk: weights in safetensors, alphabet and settings in JSON beside them."""
import json
from pathlib import Path

import safetensors.torch

from ..atomic import atomic_write
from .alphabet import Alphabet
from .model import InkRecognizer

MODEL_DIR = Path(__file__).parent / "trained"
SAMPLE_INK = Path(__file__).parent / "sample_ink"     # real UNIPEN words by writers held out from training
SAMPLE_FILES = (SAMPLE_INK / "unipen" / "data" / "isk-words.dat", SAMPLE_INK / "ber-words.inkml",
                SAMPLE_INK / "xueyan-words.json", SAMPLE_INK / "htca-words.json")    # the last in German
FORMAT = "unroll-ink-recognizer"


def save_model(model: InkRecognizer, alphabet: Alphabet, spacing: float, directory, extra: dict | None = None):
    """Write ``recognizer.safetensors`` and ``recognizer.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / "recognizer.safetensors", safetensors.torch.save(tensors))
    doc = {"format": FORMAT, "version": 1, "alphabet": alphabet.chars, "spacing": spacing,
           "model": model.config, **(extra or {})}
    atomic_write(directory / "recognizer.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")


def save_ensemble(members: list[InkRecognizer], records: list[dict], alphabet: Alphabet, spacing: float, directory,
                  extra: dict | None = None):
    """Write several networks (an ensemble, ``unroll.handwriting.ensemble``) into one model folder, their
    weights in float16 (read back into float32; ``records``: each member's training record)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"{i}.{k}": v.detach().cpu().half().contiguous()
               for i, member in enumerate(members) for k, v in member.state_dict().items()}
    atomic_write(directory / "recognizer.safetensors", safetensors.torch.save(tensors))
    doc = {"format": FORMAT, "version": 2, "alphabet": alphabet.chars, "spacing": spacing, "dtype": "float16",
           "members": [{"model": m.config, "training": r} for m, r in zip(members, records)], **(extra or {})}
    atomic_write(directory / "recognizer.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")


def load_model(directory=MODEL_DIR) -> tuple[list[InkRecognizer], Alphabet, dict]:
    """(networks in eval mode, in float32: one, or an ensemble's members; alphabet; settings) from a
    directory written by ``save_model`` or ``save_ensemble``."""
    directory = Path(directory)
    meta_path = directory / "recognizer.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"model: no recognizer.json in {directory}") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"model: {meta_path} is not an unroll ink recognizer")
    tensors = safetensors.torch.load_file(directory / "recognizer.safetensors")
    configs = [m["model"] for m in meta["members"]] if "members" in meta else [meta["model"]]
    prefixes = [f"{i}." for i in range(len(configs))] if "members" in meta else [""]
    models = []
    for config, prefix in zip(configs, prefixes):
        model = InkRecognizer(**config)
        model.load_state_dict({k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)})
        models.append(model.eval())
    return models, Alphabet(meta["alphabet"]), meta
