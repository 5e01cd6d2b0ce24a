"""Online handwriting recognition on UNIPEN writers held out from training: accuracy, speed, training time.

Reads the test split's words (writers never seen in training; see unroll.handwriting.corpus), then reports
character error rate (CER) and word accuracy for each decoder (an ensemble's, and its first network's alone;
the default one reads each writer's words in the language they read as, as `unroll recognize` reads one
writer's files given together; also one word at a time, and with the English lexicon for every word),
and recognition speed on one CPU thread for the whole pipeline (normalise, resample, features, BLSTM, decode)
with ratios against the first network's best path measured in the same run. Training time comes from the
model's own record (every network's, summed).

    python benchmarks/handwriting.py [--data ../shared/data/unipen] [--model DIR] [--speed-words 200] [--limit N]
                                     [--json out/handwriting-bench.json]
"""
import argparse
import json
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

from unroll import ctc
from unroll.handwriting.corpus import labelled_words
from unroll.handwriting.evaluate import member_log_probs, readings, word_errors
from unroll.handwriting.lexicon import choose_word
from unroll.handwriting.recognize import Recognizer
from unroll.handwriting.shipped import MODEL_DIR

GRAVES_2009 = "Graves et al. 2009, IAM-OnDB lines, BLSTM-CTC + dictionary + bigram LM: 79.7% word accuracy"


def speed(recognizer, inks, decode) -> float:
    """Words per second for the whole pipeline on ``inks`` (median of 3 passes)."""
    rates = []
    for _ in range(3):
        t = time.perf_counter()
        for ink in inks:
            lp = recognizer.log_probs([ink])[0]
            decode(lp)
        rates.append(len(inks) / (time.perf_counter() - t))
    return statistics.median(rates)


def read_by_language(rec, log_probs: list, writers: list) -> tuple[list, list, dict]:
    """The words as the auto-language recogniser ``rec`` reads them: each writer's words together (as
    `unroll recognize` reads one writer's files given together), and each word alone; and a record of the
    language told per writer and the decoding time (the networks' outputs given). Prints both."""
    started = time.perf_counter()
    groups = defaultdict(list)
    for i, key in enumerate(writers):
        groups[key].append(i)
    by_writer, per_writer = [""] * len(log_probs), {}
    for key, idx in groups.items():
        for i, word in zip(idx, rec.read_log_probs([log_probs[i] for i in idx])):
            by_writer[i] = word
        per_writer[key] = rec.language
    writer_seconds, started = time.perf_counter() - started, time.perf_counter()
    by_word, per_word = [], Counter()
    for lp in log_probs:
        by_word += rec.read_log_probs([lp])
        per_word[rec.language] += 1
    word_seconds = time.perf_counter() - started
    default = next(iter(rec.languages))
    rec.read_in(default)
    others = [key for key, code in sorted(per_writer.items()) if code != default]
    print(f"languages told per writer: {dict(Counter(per_writer.values()))} (not {default}: "
          f"{', '.join(others) or 'none'}); per word alone: {dict(per_word)}")
    print(f"decoding with the language told (outputs given): {len(log_probs) / writer_seconds:.1f} words/s "
          f"per writer, {len(log_probs) / word_seconds:.1f} per word alone")
    return by_writer, by_word, {"per_writer": per_writer, "per_word_alone": dict(per_word),
                                "decoding_words_per_second": {"per writer": len(log_probs) / writer_seconds,
                                                              "per word alone": len(log_probs) / word_seconds}}


def training_seconds(meta: dict) -> tuple[float, list]:
    """The seconds every network trained (each run and the runs it started from, --init), and the runs."""
    stages, runs = [], [m.get("training", {}) for m in meta.get("members", [meta])]
    for training in runs:
        while training:
            stages.append(training)
            training = training.get("started_from", {})
    return sum(stage.get("seconds", 0) for stage in stages), stages


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/unipen")
    p.add_argument("--model", default=str(MODEL_DIR))
    p.add_argument("--speed-words", type=int, default=200)
    p.add_argument("--limit", type=int, help="score only the first N test words (default: all)")
    p.add_argument("--json", default="out/handwriting-bench.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    rec = Recognizer(Path(args.model))
    skipped = {}
    words = list(labelled_words(args.data, rec.alphabet, rec.meta["spacing"], skipped, log=lambda s: None,
                                split="test"))
    inks, feats, writers = zip(*words[:args.limit])
    labels = [w.label for w in inks]
    print(f"test split: {len(labels)} words by {len(set(writers))} held-out writers "
          f"({', '.join(f'{k}: {v}' for k, v in skipped.items() if v)} left out)")
    log_probs = member_log_probs(rec.models, list(feats))
    read = readings(log_probs, rec.alphabet, rec.lexicon, rec.beam, rec.scorer)
    ink_alone = Recognizer(Path(args.model), lexicon=None, language_model=False)
    first = Recognizer(Path(args.model), networks=1)
    english_lexicon = [choose_word(r["open"], r["candidates"], **rec.word_choice) for r in read]
    by_writer, by_word, languages = read_by_language(rec, log_probs, writers)
    hyps = {"best path, no lexicon": [r["best_path"] for r in read],
            "prefix beam, no lexicon": [ink_alone.decode(lp) for lp in log_probs],
            "prefix beam + char LM, no lexicon": [r["open"][0] for r in read],
            "English lexicon (wordfreq en), every word": english_lexicon,
            "default, language told per word alone": by_word,
            "default, language told per writer": by_writer}
    if len(rec.models) > 1:           # what the ensemble adds to its first network
        hyps["first network alone, English lexicon"] = [first.decode(lp[:1]) for lp in log_probs]
    english = [i for i, k in enumerate(writers) if not k.startswith("sie/")]
    in_lexicon = [i for i, t in enumerate(labels) if t in rec.lexicon]
    results = {"words": len(labels), "writers": len(set(writers)), "skipped": skipped, "networks": len(rec.models),
               "lexicon_coverage": len(in_lexicon) / len(labels), "languages_told": languages,
               "decoding": {**rec.word_choice, "lm_weight": rec.lm_weight, "lm_length_bonus": rec.lm_length_bonus},
               "rows": {}}
    print(f"lexicon: {len(rec.lexicon)} words; {100 * results['lexicon_coverage']:.1f}% of test words are in it")
    print(f"{'decoder':42s} {'CER':>7s} {'word acc':>9s} {'(English srcs)':>15s} {'(in-lexicon)':>13s}")
    for name, h in hyps.items():
        row = {"cer": ctc.character_error_rate(h, labels), "word_accuracy": ctc.word_accuracy(h, labels),
               "word_accuracy_english_sources": ctc.word_accuracy([h[i] for i in english], [labels[i] for i in english]),
               "word_accuracy_in_lexicon": ctc.word_accuracy([h[i] for i in in_lexicon], [labels[i] for i in in_lexicon])}
        results["rows"][name] = row
        print(f"{name:42s} {100 * row['cer']:6.2f}% {100 * row['word_accuracy']:8.2f}% "
              f"{100 * row['word_accuracy_english_sources']:14.2f}% {100 * row['word_accuracy_in_lexicon']:12.2f}%")
    by_source = Counter(k.split("/")[0] for k in writers)
    results["by_source"] = {s: {"words": n, "word_accuracy": ctc.word_accuracy(
        [by_writer[i] for i, k in enumerate(writers) if k.startswith(s + "/")],
        [labels[i] for i, k in enumerate(writers) if k.startswith(s + "/")])} for s, n in sorted(by_source.items())}
    print("word accuracy by source, the default decoder: " + ", ".join(
        f"{s} {100 * v['word_accuracy']:.0f}% ({v['words']})" for s, v in results["by_source"].items()))
    results["errors_english_sources"] = word_errors([read[i] for i in english], [english_lexicon[i] for i in english],
                                                    [labels[i] for i in english], rec.lexicon)
    print("why the English lexicon got English-source words wrong: " + ", ".join(
        f"{kind} {n}" for kind, n in results["errors_english_sources"].items()))
    german = [i for i, k in enumerate(writers) if k.startswith("sie/")]
    if german:                        # as `unroll recognize --language de` and `--language en,de` read them
        deutsch = Recognizer(Path(args.model), language="de")
        in_german = list(english_lexicon)
        for i in german:
            in_german[i] = deutsch.decode(log_probs[i])
        bilingual = Recognizer(Path(args.model), language="en,de")
        both = [bilingual.decode(lp) for lp in log_probs]
        results["other_languages"] = {
            "sie (German) with --language de": ctc.word_accuracy([in_german[i] for i in german],
                                                                 [labels[i] for i in german]),
            "all, sie with --language de and the rest in English": ctc.word_accuracy(in_german, labels),
            "all with --language en,de": ctc.word_accuracy(both, labels),
            "English sources with --language en,de": ctc.word_accuracy([both[i] for i in english],
                                                                       [labels[i] for i in english]),
            "sie (German) with --language en,de": ctc.word_accuracy([both[i] for i in german],
                                                                    [labels[i] for i in german])}
        for name, acc in results["other_languages"].items():
            print(f"word accuracy, {name}: {100 * acc:.2f}%")
    sample = list(inks[:args.speed_words])
    language_model = Recognizer(Path(args.model), lexicon=None)
    decoders = {"best path": (first, lambda lp: ctc.best_path(lp[0])),
                "prefix beam": (rec, ink_alone.decode),
                "beam + LM": (rec, language_model.decode),
                "lexicon": (rec, rec.decode),
                "lexicon, language told per word": (rec, lambda lp: rec.read_log_probs([lp]))}
    if len(rec.models) > 1:
        decoders["lexicon, first network alone"] = (first, first.decode)
    rates = {name: speed(reader, sample, fn) for name, (reader, fn) in decoders.items()}
    results["words_per_second_one_thread"] = rates
    print(f"speed, one CPU thread, {len(sample)} words, whole pipeline (median of 3; best path: the first "
          f"network's):")
    for name, r in rates.items():
        print(f"  {name:30s} {r:8.1f} words/s   x{r / rates['best path']:.3f} of best path")
    seconds, stages = training_seconds(rec.meta)
    results["training_seconds"] = seconds or None
    if results["training_seconds"]:
        print(f"training: {results['training_seconds'] / 60:.1f} min in {len(stages)} runs of "
              f"{', '.join(str(stage['config']['steps']) for stage in stages)} steps, {len(rec.models)} network(s)")
    print(f"reference: {GRAVES_2009}")
    results["wall_seconds"] = time.perf_counter() - started
    print(f"benchmark wall time {results['wall_seconds']:.0f} s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
