"""Speed of DCGAN's transfer test on the full CIFAR-10: features of all 60,000 images, then the
L2-SVM with its C search and refit (ganlab.eval.transfer, ganlab.eval.svm); and, as the baseline,
sklearn's LinearSVC (LIBLINEAR) for one C on a subset of the same features against our solver
on the same subset.

The discriminator is a run's trained one (--run, from --params and --models-root) or, without
--run, a fresh DCGAN discriminator of width 32 (speed does not depend on the weights).
Run with the thread count you mean to measure; the project's numbers were taken with
OMP_NUM_THREADS=1 on a shared 2-core machine:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transfer_speed.py [--run dcgan-cifar10 --params P --models-root M]
        [--subset 10000] [--data-root data]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ganlab.data.datasets import load_images
from ganlab.eval.config import TransferConfig
from ganlab.eval.svm import GramPreconditioner, Standardizer, accuracy, fit_l2svm, select_c_and_refit
from ganlab.eval.transfer import conv_features, load_discriminator
from ganlab.images import nchw
from ganlab.models.blocks import dcgan_discriminator
from ganlab.params import load_params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--run", default="")
    ap.add_argument("--models-root", default=None)
    ap.add_argument("--subset", type=int, default=10000, help="train images for the LinearSVC comparison")
    ap.add_argument("--baseline-c", type=float, default=1e-4)
    args = ap.parse_args()
    config = TransferConfig()
    print(f"threads: {torch.get_num_threads()}")

    train, _ = load_images(f"{args.data_root}/cifar10", "train")
    test, _ = load_images(f"{args.data_root}/cifar10", "test")
    images = torch.cat([nchw(train.images), nchw(test.images)])
    y_train = torch.from_numpy(np.asarray(train.labels, dtype=np.int64))
    y_test = torch.from_numpy(np.asarray(test.labels, dtype=np.int64))
    if args.run:
        models = load_params(args.params).models
        models_root = args.models_root or f"{args.data_root}/models"
        net = load_discriminator(models, args.run, args.data_root, models_root).net
    else:
        torch.manual_seed(0)
        net = dcgan_discriminator(3, 32, 32)

    t0 = time.perf_counter()
    features = conv_features(net, images, config.pool, config.batch_size)
    t_feat = time.perf_counter() - t0
    print(f"features: {features.shape[1]}-d for {len(images):,} images in {t_feat:.1f} s")
    f_train, f_test = features[: len(y_train)], features[len(y_train):]

    t0 = time.perf_counter()
    scaler = Standardizer.fit(f_train)
    scaler.apply_(f_train)
    scaler.apply_(f_test)
    search = select_c_and_refit(f_train, y_train, 10, config.c_grid, config.val_fraction, config.seed, tol=config.tol)
    t_svm = time.perf_counter() - t0
    print(f"L2-SVM, {len(config.c_grid)} C values on {1 - config.val_fraction:.0%} of train + refit on all: "
          f"{t_svm:.1f} s; C {search.c:g}, test accuracy {accuracy(search.fit, f_test, y_test):.4f}")
    print(f"total: {t_feat + t_svm:.1f} s ({(t_feat + t_svm) / 60:.1f} min)")

    # the baseline: one C on a subset, LIBLINEAR against ours (ours with its preconditioner, as the stage runs it)
    from sklearn.svm import LinearSVC

    pick = torch.from_numpy(np.random.default_rng(0).choice(len(y_train), args.subset, replace=False))
    x_sub, y_sub = f_train[pick], y_train[pick]
    c = args.baseline_c
    t0 = time.perf_counter()
    ref = LinearSVC(C=c, loss="squared_hinge", penalty="l2", dual=False, tol=1e-4).fit(x_sub.numpy(), y_sub.numpy())
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    preconditioner = GramPreconditioner.of(x_sub)
    t_pre = time.perf_counter() - t0
    ours = fit_l2svm(x_sub, y_sub, 10, c, tol=config.tol, preconditioner=preconditioner)
    t_ours = time.perf_counter() - t0
    ref_acc = float((ref.predict(f_test.numpy()) == y_test.numpy()).mean())
    print(f"one C ({c:g}) on {args.subset:,} x {x_sub.shape[1]}: LinearSVC(dual=False, tol=1e-4) {t_ref:.1f} s "
          f"(test acc. {ref_acc:.4f}); ours {t_ours:.1f} s (test acc. {accuracy(ours, f_test, y_test):.4f}), of "
          f"which {t_pre:.1f} s is the Gram eigendecomposition that a C grid shares; ratio {t_ref / t_ours:.1f}x, "
          f"{t_ref / (t_ours - t_pre):.1f}x per further C")

if __name__ == "__main__":
    main()
