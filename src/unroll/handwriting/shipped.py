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
                SAMPLE_INK / "xueyan-words.json")
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


def load_model(directory=MODEL_DIR) -> tuple[InkRecognizer, Alphabet, dict]:
    """(model in eval mode, alphabet, settings) from a directory written by ``save_model``."""
    directory = Path(directory)
    meta_path = directory / "recognizer.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"model: no recognizer.json in {directory}") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"model: {meta_path} is not an unroll ink recognizer")
    model = InkRecognizer(**meta["model"])
    model.load_state_dict(safetensors.torch.load_file(directory / "recognizer.safetensors"))
    model.eval()
    return model, Alphabet(meta["alphabet"]), meta
