"""SeqGAN's cost on this machine: Monte-Carlo rollouts (vectorised against the authors' loop), the
discriminator, and one adversarial iteration of the CPU profile and of the paper's schedule.

The rollout baseline is the authors' algorithm written in PyTorch: for every rollout and every
prefix length t, one pass of the generator over the prefix and then the suffix, batch B at a time
(rollouts x (L - 1) passes of L steps). ganlab's ``rollouts`` reads the prefixes once and grows
all completions together (L - 1 steps on up to rollouts x (L - 1) x B rows). Both draw tokens the
same way (inverse CDF, in the same 512-row chunks), so the ratio is the vectorisation's alone.

    .venv/bin/python benchmarks/seqgan_speed.py [--repeats 3] [--length 20] [--vocab 5000]

Prints completed rollout sequences per second for both, their ratio, discriminator sequences/s
(the paper's 1,720 filters and the CPU profile's quarter), the seconds of one adversarial
iteration (policy step with its rollouts and rewards, and the discriminator minibatches), and the
time of one MLE epoch over 10,000 sequences.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.seqgan import rollouts
from ganlab.models.sequence import START, LSTMLanguageModel

QUARTER = (25, 50, 50, 50, 50, 25, 25, 25, 25, 25, 40, 40)


@torch.no_grad()
def rollouts_loop(model: LSTMLanguageModel, seqs: torch.Tensor, n: int) -> torch.Tensor:
    """The authors' order of work: each (rollout, prefix) pair re-reads its prefix and samples its suffix."""
    b, length = seqs.shape
    out = seqs.repeat(length - 1, n, 1, 1)
    for r in range(n):
        for t in range(1, length):
            token, state = torch.full((b,), START, dtype=torch.long), None
            for p in range(length):
                h, state = model.lstm(model.embed(token).unsqueeze(1), state)
                if p < t:
                    token = seqs[:, p]
                else:
                    token = model.draw(h[:, 0], torch.rand(b))
                    out[t - 1, r, :, p] = token
    return out


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure (the best is printed)")
    parser.add_argument("--length", type=int, default=20, help="sequence length (the oracle: 20; COCO: 38)")
    parser.add_argument("--vocab", type=int, default=5000, help="vocabulary (the oracle: 5,000; COCO: 4,648)")
    parser.add_argument("--batch", type=int, default=64, help="sequences per batch (SeqGAN: 64)")
    parser.add_argument("--rollouts", type=int, default=16, help="completions per prefix (SeqGAN: 16)")
    args = parser.parse_args()
    b, length, n = args.batch, args.length, args.rollouts
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; B {b}, L {length}, vocab {args.vocab}, "
          f"{n} rollouts")
    torch.manual_seed(0)
    model = LSTMLanguageModel(args.vocab, 32, 32, length)
    seqs = torch.randint(0, args.vocab, (b, length))
    completions = (length - 1) * n * b
    fast = best_of(lambda: rollouts(model, seqs, n), args.repeats)
    loop = best_of(lambda: rollouts_loop(model, seqs, n), max(1, args.repeats - 2))
    print(f"rollouts, vectorised : {fast:7.3f} s per batch  {completions / fast:9.0f} completions/s")
    print(f"rollouts, loop       : {loop:7.3f} s per batch  {completions / loop:9.0f} completions/s")
    print(f"speed-up             : x{loop / fast:.1f}")

    spec = DataSpec((length,), 0, vocab=args.vocab)
    cls = registry.get("seqgan")
    for label, counts, d_steps in (("CPU profile (quarter filters, 15 D steps)", QUARTER, 15),
                                   ("paper (1,720 filters, 4,680 D steps)", None, 4680)):
        config = cls.Config(**({"d_filter_counts": counts} if counts else {}), d_steps=d_steps)
        torch.manual_seed(0)
        v = cls(config, spec, torch.device("cpu"))
        d = v.nets["discriminator"].eval()
        scored = torch.randint(0, args.vocab, (1024, length))
        with torch.no_grad():
            score = best_of(lambda: d(scored), args.repeats)
        d.train()
        policy = best_of(lambda: v.policy_step(b), args.repeats)
        d_step = best_of(lambda: v.discriminator_step(seqs), args.repeats)
        total = policy + d_steps * d_step
        extrapolated = " (D steps extrapolated from one)" if d_steps > 100 else ""
        print(f"{label}: discriminator {1024 / score:8.0f} sequences/s; policy step {policy:.2f} s; "
              f"D step {1000 * d_step:.0f} ms; one adversarial iteration {total:.1f} s{extrapolated}")

    mle = registry.get("seq_mle")(registry.get("seq_mle").Config(), spec, torch.device("cpu"))
    step = best_of(lambda: mle.step(seqs, None, 0), args.repeats)
    print(f"MLE: {1000 * step:.0f} ms per step, {step * 10_000 / b:.1f} s per epoch of 10,000 sequences")


if __name__ == "__main__":
    main()
