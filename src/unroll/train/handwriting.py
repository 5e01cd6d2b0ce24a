"""Training the handwriting recogniser (unroll.handwriting) on UNIPEN words with CTC: the engine's checkpoints
(resume bit for bit on one CPU thread), progress display, gradient clipping and data parallelism (under
torchrun each rank reads its share of every batch); its own loop because words have variable length."""
import functools
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from .. import ctc
from ..gradients import clip_grad_norm
from ..handwriting.alphabet import Alphabet
from ..handwriting.augment import distort, distortions
from ..handwriting.batches import bucketed_batches, pad
from ..handwriting.corpus import load_corpus, read_corpus, save_corpus
from ..handwriting.charlm import CharNgram, PrefixScorer
from ..handwriting.evaluate import log_probs_of, member_log_probs, readings, tune_decoding, tune_language_model
from ..handwriting.lexicon import DEFAULT_LEXICON, Lexicon
from ..handwriting.model import InkRecognizer
from ..handwriting.shipped import load_model, save_ensemble, save_model
from . import distributed, state
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .progress import RunProgress
from .seeding import rank_draws


@dataclass
class HandwritingConfig:
    """Everything that decides a training run (the defaults produced the shipped model)."""
    data: str = "../shared/data/unipen"
    spacing: float = 0.35           # resampling step, in core heights
    hidden_size: int = 128
    num_layers: int = 3
    peephole: bool = False
    dropout: float = 0.2            # between stacked layers
    backend: str = "fused"          # the LSTM's (unroll.layers): "torch" runs cuDNN on CUDA, same weights
    augment: bool = True            # distort each training word (unroll.handwriting.augment)
    init: str = ""                  # a model folder (save_model's) to start from instead of random weights
    steps: int = 14000
    lr: float = 2e-3
    final_lr_fraction: float = 0.05
    warmup: int = 200
    steps_per_batch: int = 3000     # padded (time x batch) size of a batch
    clip: float = 10.0
    seed: int = 0
    eval_every: int = 500
    checkpoint_every: int = 250


def lr_factor(step: int, config: HandwritingConfig) -> float:
    """Linear warm-up, then cosine decay to ``final_lr_fraction``."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.final_lr_fraction + (1 - config.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


def corpus_for(config: HandwritingConfig, cache_dir, alphabet: Alphabet, log=print):
    cache = Path(cache_dir) / f"unipen-words-spacing{config.spacing:g}.npz"
    if cache.is_file():
        return load_corpus(cache)
    corpus, skipped = read_corpus(config.data, config.spacing, alphabet, log=lambda s: None)
    log(f"read {len(corpus)} words; skipped: {skipped}")
    save_corpus(corpus, cache)
    return corpus


def _start_from(model: InkRecognizer, folder, alphabet: Alphabet) -> dict:
    """Copy the weights and standardisation of the model saved in ``folder`` (same alphabet and layers);
    returns that model's training record ({} if it has none)."""
    members, start_alphabet, meta = load_model(folder)
    if len(members) != 1:
        raise ValueError(f"init: {folder} holds an ensemble of {len(members)} networks; start from one of them")
    start = members[0]
    shape = lambda config: {k: v for k, v in config.items() if k != "dropout"}   # dropout holds no weights
    if shape(start.config) != shape(model.config) or start_alphabet.chars != alphabet.chars:
        raise ValueError(f"init: the model in {folder} ({start.config}) does not match this configuration "
                         f"({model.config})")
    model.load_state_dict(start.state_dict())
    return meta.get("training", {})


def decode_greedy(model: InkRecognizer, features: list, alphabet: Alphabet) -> list[str]:
    """Best-path transcriptions of featurised words."""
    return [alphabet.decode(ctc.best_path(lp)) for lp in log_probs_of(model, features)]


def ctc_batch_loss(model, x, xl, y, yl, batch_size: int, world: int) -> torch.Tensor:
    """CTC loss per target character, averaged over the ``batch_size`` words of the global batch of which
    these are one rank's share (times ``world``, since data parallelism averages the ranks' gradients)."""
    per_word = F.ctc_loss(model(x, xl), y, xl, yl, reduction="none", zero_infinity=True)
    return (per_word / yl.to(per_word.device).clamp_min(1)).sum() * (world / batch_size)


def update(model, optimizer, loss: torch.Tensor, clip: float) -> None:
    """One optimiser step on ``loss``: fresh gradients, their total norm clipped at ``clip``, the step."""
    optimizer.zero_grad()
    loss.backward()
    clip_grad_norm(model.parameters(), clip)
    optimizer.step()


def train_handwriting(config: HandwritingConfig, out, export=None, quiet=False, log=print,
                      corpus=None, device="cpu") -> dict:
    """Train (or resume) into ``out``; write the final model to ``export`` (a folder) if given.
    ``corpus`` (a Corpus) replaces the UNIPEN words read from ``config.data``. Under torchrun the ranks
    split every batch and rank 0 evaluates, checkpoints and exports. Returns the last evaluation."""
    with distributed.joined(device) as cluster:
        return _train(config, Path(out), export, quiet, log, corpus, cluster)


def _train(config: HandwritingConfig, out: Path, export, quiet, log, corpus, cluster) -> dict:
    """train_handwriting's loop, on the ranks of ``cluster``."""
    torch.manual_seed(config.seed)
    main = cluster.is_main
    quiet, log = quiet or not main, log if main else (lambda s: None)
    out.mkdir(parents=True, exist_ok=True)
    alphabet = Alphabet()
    corpus = corpus if corpus is not None else corpus_for(config, out, alphabet, log)
    train, val = corpus.split("train"), corpus.split("val")
    targets = [alphabet.encode(t) for t in train.labels]
    lengths = [len(f) for f in train.features]
    model = InkRecognizer(train.features[0].shape[1], len(alphabet), config.hidden_size, config.num_layers,
                          config.peephole, config.dropout)
    model.lstm.backend = config.backend
    started_from = None                 # the starting model's own training record, kept in the export
    if config.init:
        started_from = _start_from(model, config.init, alphabet)
    else:
        allf = np.concatenate(train.features)
        model.set_standardization(torch.from_numpy(allf.mean(0)), torch.from_numpy(allf.std(0)))
    model.to(cluster.device)
    trainer = DistributedDataParallel(model) if cluster.world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    step, epoch, position, history, seconds = 0, 0, 0, [], 0.0
    found = latest_checkpoint(out)
    if found is not None:
        tensors, meta = load_checkpoint(found)
        if {**asdict(HandwritingConfig()), **meta["config"]} != asdict(config):   # defaults for newer fields
            raise ValueError(f"out: {found} was written with another configuration; use a new folder")
        state.restore(model, optimizer, scheduler, tensors, meta)
        step, epoch, position, history, seconds = (meta["step"], meta["epoch"], meta["position"],
                                                   meta["history"], meta["seconds"])
        log(f"resumed from {found.name} at step {step}")
    progress = RunProgress(config.steps, step, quiet=quiet, label="handwriting")
    batches = bucketed_batches(lengths, config.steps_per_batch, config.seed, epoch)
    started, losses, words = time.perf_counter(), [], 0
    record = history[-1] if history else {}
    while step < config.steps:
        if position >= len(batches):
            epoch, position = epoch + 1, 0
            batches = bucketed_batches(lengths, config.steps_per_batch, config.seed, epoch)
        index = batches[position]
        mine = index[cluster.rank::cluster.world]
        x, xl, y, yl = pad([train.features[i] for i in mine], [targets[i] for i in mine])
        if config.augment:   # drawn for the whole batch from torch's checkpointed generator: resumes repeat them
            x = distort(x, distortions(len(index))[cluster.rank::cluster.world])
        model.train()
        with rank_draws(config.seed, step, cluster.rank, cluster.device):     # each rank its own dropout masks
            loss = ctc_batch_loss(trainer, x.to(cluster.device), xl, y.to(cluster.device), yl, len(index),
                                  cluster.world)
        update(model, optimizer, loss, config.clip)
        scheduler.step()
        step, position, words = step + 1, position + 1, words + len(index)
        losses.append(loss.item())
        progress.step(step, f"loss {np.mean(losses[-50:]):.3f}")
        if main and (step % config.eval_every == 0 or step == config.steps):
            model.eval()
            hyp = decode_greedy(model, val.features, alphabet)
            elapsed = seconds + time.perf_counter() - started
            record = {"step": step, "epoch": epoch, "loss": float(np.mean(losses[-config.eval_every:])),
                      "val_cer": ctc.character_error_rate(hyp, val.labels),
                      "val_word_accuracy": ctc.word_accuracy(hyp, val.labels), "seconds": elapsed}
            history.append(record)
            progress.report(f"step {step} epoch {epoch} loss {record['loss']:.3f} val CER {record['val_cer']:.3f} "
                            f"val words {record['val_word_accuracy']:.3f} ({elapsed / 60:.1f} min, "
                            f"{words / (time.perf_counter() - started):.0f} words/s)")
        if main and (step % config.checkpoint_every == 0 or step == config.steps):
            tensors, meta = state.capture(model, optimizer, scheduler)
            meta.update(step=step, epoch=epoch, position=position, history=history, config=asdict(config),
                        seconds=seconds + time.perf_counter() - started)
            save_checkpoint(out, step, tensors, meta)
    progress.close()
    if export is not None and main:
        training = {"config": asdict(config), "history": history, "seconds": history[-1]["seconds"],
                    "train_words": len(train), "train_writers": len(set(train.writers)),
                    "hardware": hardware(cluster)}
        if started_from is not None:
            training["started_from"] = started_from
        export_recognizer(model, alphabet, config.spacing, val, export, training, log)
    return record


def hardware(cluster) -> dict:
    """Where a run (its last stretch, if resumed) trained: device, its name, processes, torch version."""
    device = cluster.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"device": device.type, "name": name, "processes": cluster.world, "torch": torch.__version__}


def tuned_decoding(models: list, alphabet: Alphabet, val, log=print) -> dict:
    """The decoders' settings tuned on the validation words ``val`` (a Corpus) for one network or an
    ensemble's: the language model's weight and length bonus by CER, then the word choice's settings
    (evaluate.tune_decoding) by word accuracy."""
    log_probs, lexicon = member_log_probs(models, val.features), Lexicon.read(DEFAULT_LEXICON)
    language_model = CharNgram(lexicon.frequencies)
    lm = tune_language_model(log_probs, val.labels, alphabet, language_model)
    read = readings(log_probs, alphabet, lexicon, scorer=functools.partial(
        PrefixScorer, language_model, alphabet.chars, lm["lm_weight"], lm["lm_length_bonus"]))
    decoding = {**lm, **tune_decoding(read, val.labels)}
    log(f"decoding tuned on {len(val)} validation words: {decoding}")
    return decoding


def export_recognizer(model: InkRecognizer, alphabet: Alphabet, spacing: float, val, folder, training: dict,
                      log=print) -> None:
    """Tune the decoders on the validation words ``val`` (a Corpus) and write the model folder."""
    model.eval()
    save_model(model, alphabet, spacing, folder, {"decoding": tuned_decoding([model], alphabet, val, log),
                                                  "training": training})


def export_ensemble(member_folders: list, folder, data: str = HandwritingConfig.data, log=print,
                    corpus=None) -> dict:
    """Join trained recognisers (folders written by ``export_recognizer``, one network each, same alphabet
    and spacing) into one ensemble folder (``shipped.save_ensemble``, weights in float16), the decoders tuned
    for the ensemble on the validation writers of ``data`` (of ``corpus``, a Corpus, if given); returns the
    decoding settings."""
    if len(member_folders) < 2:
        raise ValueError(f"members: expected at least two model folders, got {len(member_folders)}")
    members, records, alphabet, spacing = [], [], None, None
    for member in member_folders:
        models, member_alphabet, meta = load_model(member)
        if len(models) != 1:
            raise ValueError(f"members: {member} is already an ensemble; give its members' folders")
        if alphabet is not None and (member_alphabet.chars, meta["spacing"]) != (alphabet.chars, spacing):
            raise ValueError(f"members: {member} has another alphabet or spacing than {member_folders[0]}")
        alphabet, spacing = member_alphabet, meta["spacing"]
        members.append(models[0])
        records.append(meta.get("training", {}))
    for model in members:           # decode as the saved float16 weights will
        with torch.no_grad():
            for tensor in model.state_dict().values():
                tensor.copy_(tensor.half())
    val = (corpus if corpus is not None else read_corpus(data, spacing, alphabet, log=lambda s: None,
                                                          split="val")[0]).split("val")
    decoding = tuned_decoding(members, alphabet, val, log)
    save_ensemble(members, records, alphabet, spacing, folder, {"decoding": decoding})
    return decoding
