"""One training step of the handwriting recogniser (3 x 128 BLSTM + CTC, Adam, clipping), per LSTM backend.

Random ink-like batches of the training loop's padded size (T x B steps, lengths from T/2 to T, labels of a
third of each length); the backends run round-robin on the same batch and the table gives medians and the
ratio to the fused path measured in the same run.

    python benchmarks/handwriting_step.py [--device cuda] [--batch-steps 24000] [--reps 20] [--json out.json]
"""
import argparse
import json
import statistics
import time

import torch

from unroll.handwriting.model import InkRecognizer
from unroll.train.handwriting import HandwritingConfig, ctc_batch_loss, update

BACKENDS = ("fused", "torch")


def batch(steps: int, words: int, device, generator):
    """x (T, B, 8), input lengths, concatenated labels and label lengths, for ``words`` words of up to ``steps``."""
    lengths = torch.randint(steps // 2, steps + 1, (words,), generator=generator)
    lengths[0] = steps
    labels = lengths // 3
    targets = torch.randint(1, 53, (int(labels.sum()),), generator=generator)
    x = torch.randn(steps, words, 8, generator=generator)
    return x.to(device), lengths, targets.to(device), labels


def training_step(model, optimizer, data) -> None:
    """The training loop's step (unroll.train.handwriting) on one process."""
    x, xl, y, yl = data
    update(model, optimizer, ctc_batch_loss(model, x, xl, y, yl, len(xl), 1), HandwritingConfig().clip)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-steps", type=int, default=24000, help="padded T x B of a batch")
    parser.add_argument("--length", type=int, default=60, help="T, the longest word's steps")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    data = batch(args.length, args.batch_steps // args.length, device, torch.Generator().manual_seed(0))
    models = {}
    for backend in BACKENDS:
        torch.manual_seed(0)
        model = InkRecognizer(8, 53, hidden_size=128, num_layers=3, dropout=0.3).to(device).train()
        model.lstm.backend = backend
        models[backend] = (model, torch.optim.Adam(model.parameters(), lr=1e-3))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = {backend: [] for backend in BACKENDS}
    for rep in range(args.reps + 2):          # two warm-up rounds
        for backend, (model, optimizer) in models.items():
            sync()
            start = time.perf_counter()
            training_step(model, optimizer, data)
            sync()
            if rep >= 2:
                times[backend].append(time.perf_counter() - start)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (1 thread)"
    print(f"torch {torch.__version__}, {name}; batch {args.length} x {len(data[1])} words, median of {args.reps}")
    rows = []
    for backend, ts in times.items():
        ms = statistics.median(ts) * 1e3
        rows.append({"backend": backend, "ms": ms, "ratio": ms / (statistics.median(times["fused"]) * 1e3)})
        print(f"  {backend:<6} {ms:9.1f} ms a step  {rows[-1]['ratio']:5.2f} x fused")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": name, "length": args.length, "words": len(data[1]),
                       "reps": args.reps, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
