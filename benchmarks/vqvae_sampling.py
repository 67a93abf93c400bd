"""VQ-VAE's prior sampling as metrics@vqvae does it (5,000 code grids in batches of 500): the sampler
that evaluates the PixelCNN on one row of codes per position (VQVAE.sample_codes) against the one it
replaced, which ran it over the whole grid for every position, on the same noise, in the same run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/vqvae_sampling.py [--generator data/models/vqvae/generator.pt] \
        [--n 5000] [--batch-size 500] [--seed 0]

Without --generator it builds the default-config VQ-VAE for MNIST (7x7 codes) with random weights.
The two alternate batch by batch, the order swapped each batch, so that a machine busy with other
work slows both alike. Prints the seconds of each, their ratio and whether every code is the same.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganlab.models.base import DataSpec
from ganlab.runs import build_variant, find_generator, load_generator


def stepwise_codes(variant, u: torch.Tensor) -> torch.Tensor:
    """The replaced sampler: the whole prior over the whole grid for each position, read at that position."""
    h, w = variant.grid
    codes = torch.zeros(len(u), h, w, dtype=torch.long, device=u.device)
    for i in range(h * w):
        r, col = divmod(i, w)
        logits = variant.nets["prior"](codes)[:, :, r, col].float()
        cdf = logits.softmax(1).cumsum(1)
        pick = torch.searchsorted(cdf, u[:, i : i + 1].float().contiguous(), right=True)
        codes[:, r, col] = pick.squeeze(1).clamp(max=variant.config.codebook_size - 1)
    return codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", default="", help="a vqvae generator.pt, a run's folder or name; default: random weights")
    ap.add_argument("--n", type=int, default=5000, help="code grids drawn (metrics.n_fake)")
    ap.add_argument("--batch-size", type=int, default=500, help="grids per batch (metrics.batch_size)")
    ap.add_argument("--seed", type=int, default=0, help="the noise, and the random weights without --generator")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.generator:
        source = find_generator(args.generator)
        variant = load_generator(source)
    else:
        variant = build_variant("vqvae", {}, DataSpec((1, 28, 28), 10), "cpu")
        source = "default config, random weights"
    variant.nets.eval()
    c = variant.config
    print(f"vqvae ({source}): {variant.grid[0]}x{variant.grid[1]} codes, K = {c.codebook_size}, prior width "
          f"{c.prior_width}, {c.prior_layers} blocks; {args.n} grids in batches of {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}")
    noise = variant.noise(args.n, torch.Generator().manual_seed(args.seed))
    seconds = {"whole grid": 0.0, "row by row": 0.0}
    samplers = {"whole grid": lambda u: stepwise_codes(variant, u), "row by row": variant.sample_codes}
    identical = True
    with torch.no_grad():
        for b, start in enumerate(range(0, args.n, args.batch_size)):
            u = noise[start : start + args.batch_size]
            codes = {}
            for name in sorted(samplers, reverse=b % 2 == 1):
                t0 = time.perf_counter()
                codes[name] = samplers[name](u)
                seconds[name] += time.perf_counter() - t0
            identical &= torch.equal(codes["whole grid"], codes["row by row"])
    old, new = seconds["whole grid"], seconds["row by row"]
    print(f"  whole grid per position (old) {old:7.2f} s")
    print(f"  one row per position (new)    {new:7.2f} s  ({old / new:.2f}x faster)")
    print(f"  codes identical: {identical}")


if __name__ == "__main__":
    main()
