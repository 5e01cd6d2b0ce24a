"""UNIPEN words as training data: read once, featurised, cached, and split by writer (never by word).

A word's writer key is ``source/folder`` for the sources that keep one writer per folder (apc, apd, sie) and
``source/file`` otherwise (one writer per file, the file's stem after its last '-', e.g. ``sta/ja``). Whole
writers go to one split, chosen by a hash of the key, so held-out writers are never seen in training.
"""
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..data.ink.preprocess import ink_to_features
from ..data.ink.unipen import read_unipen
from .alphabet import Alphabet

FOLDER_WRITERS = ("apc", "apd", "sie")
SPLITS = {"val": (0.0, 0.04), "test": (0.04, 0.14), "train": (0.14, 1.0)}


def writer_key(relative: Path) -> str:
    """Writer of a data file given its path below the category folder (e.g. ``sta/sta1/hpb1-ja.dat``)."""
    source = relative.parts[0]
    if source in FOLDER_WRITERS:
        return f"{source}/{relative.parent.name}"
    return f"{source}/{relative.stem.rsplit('-', 1)[-1]}"


def split_of(key: str) -> str:
    """'train', 'val' or 'test' for a writer key (a fixed hash, so every run agrees)."""
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2 ** 32
    return next(name for name, (lo, hi) in SPLITS.items() if lo <= u < hi)


@dataclass
class Corpus:
    """Featurised words: ``features[i]`` (T_i, F) float32, ``labels[i]`` text, ``writers[i]`` key."""
    features: list
    labels: list
    writers: list

    def split(self, name: str) -> "Corpus":
        keep = [i for i, w in enumerate(self.writers) if split_of(w) == name]
        return Corpus([self.features[i] for i in keep], [self.labels[i] for i in keep],
                      [self.writers[i] for i in keep])

    def __len__(self) -> int:
        return len(self.labels)


def labelled_words(root, alphabet: Alphabet, spacing: float, skipped: dict | None = None, log=print,
                   split: str | None = None):
    """Yield (Ink, features, writer key) for every ``.SEGMENT WORD`` under ``root/data/6`` (only writers of
    ``split`` if given) whose label the alphabet covers and whose ink gives CTC room (at least 2 x letters + 1
    resampled points); what is left out is counted in ``skipped`` by reason."""
    root = Path(root)
    category = root / "data" / "6"
    if not category.is_dir():
        raise ValueError(f"root: expected the UNIPEN folder holding data/6, got {root}")
    skipped = {} if skipped is None else skipped
    for reason in ("unreadable files", "label outside alphabet", "no ink", "BAD quality"):
        skipped.setdefault(reason, 0)
    for path in sorted(category.rglob("*.dat")):
        key = writer_key(path.relative_to(category))
        if split is not None and split_of(key) != split:
            continue
        try:
            doc = read_unipen(path, include_dir=root / "include")
        except ValueError as e:
            skipped["unreadable files"] += 1
            log(f"skipping {e}")
            continue
        for word in doc.words:
            if word.quality == "BAD":
                skipped["BAD quality"] += 1
            elif not alphabet.covers(word.label or ""):
                skipped["label outside alphabet"] += 1
            elif word.num_points < 2:
                skipped["no ink"] += 1
            else:
                f = ink_to_features(word, spacing)
                if len(f) < 2 * len(word.label) + 1:
                    skipped["no ink"] += 1
                    continue
                yield word, f, key


def read_corpus(root, spacing: float, alphabet: Alphabet, log=print, split: str | None = None) -> tuple[Corpus, dict]:
    """Every usable labelled word (see ``labelled_words``; only writers of ``split`` if given), featurised,
    with the counts of what was skipped."""
    skipped = {}
    feats, labels, writers = [], [], []
    for word, f, key in labelled_words(root, alphabet, spacing, skipped, log, split):
        feats.append(f)
        labels.append(word.label)
        writers.append(key)
    return Corpus(feats, labels, writers), skipped


def save_corpus(corpus: Corpus, path) -> None:
    """One .npz: concatenated features with offsets, labels and writers."""
    offsets = np.cumsum([0] + [len(f) for f in corpus.features])
    buf = io.BytesIO()
    np.savez(buf, features=np.concatenate(corpus.features), offsets=offsets,
             labels=np.array(corpus.labels), writers=np.array(corpus.writers))
    atomic_write(path, buf.getvalue())


def load_corpus(path) -> Corpus:
    z = np.load(path, allow_pickle=False)
    f, o = z["features"], z["offsets"]
    return Corpus([f[o[i]:o[i + 1]] for i in range(len(o) - 1)], z["labels"].tolist(), z["writers"].tolist())
