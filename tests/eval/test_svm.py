"""The L2-SVM of the transfer test (ganlab.eval.svm): it agrees with LIBLINEAR, warm-starts, picks C, holds out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlab.eval.svm import GramPreconditioner, fit_l2svm, select_c_and_refit, stratified_holdout


def blobs(n: int, d: int, k: int, seed: int, spread: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """k Gaussian classes in d dimensions, mixed by a random matrix (correlated features), standardised."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = (rng.normal(size=(k, d))[y] + spread * rng.normal(size=(n, d))) @ rng.normal(size=(d, d))
    return (x - x.mean(0)) / x.std(0), y


@pytest.mark.parametrize("c", [0.01, 1.0])
@pytest.mark.parametrize("precondition", [False, True])
def test_solver_agrees_with_sklearn_linear_svc(c, precondition):
    from sklearn.svm import LinearSVC

    x, y = blobs(400, 30, 4, seed=0)
    # a huge intercept_scaling makes LIBLINEAR's penalised bias effectively unpenalised, as ours is
    ref = LinearSVC(C=c, loss="squared_hinge", penalty="l2", dual=False, intercept_scaling=1000, tol=1e-10,
                    max_iter=100000).fit(x, y)
    xt = torch.from_numpy(x)
    pre = GramPreconditioner.of(xt) if precondition else None
    fit = fit_l2svm(xt, torch.from_numpy(y), 4, c, tol=1e-9, preconditioner=pre)
    ours, theirs = fit.decision_function(xt).numpy(), ref.decision_function(x)
    assert fit.converged
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert np.allclose(fit.weight.numpy().T, ref.coef_, atol=1e-3 * np.abs(ref.coef_).max())


def test_warm_start_and_float32_reach_the_same_solution():
    x, y = blobs(300, 20, 3, seed=1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    cold = fit_l2svm(xt, yt, 3, 0.3, tol=1e-8)
    warm = fit_l2svm(xt, yt, 3, 0.3, tol=1e-8, init=fit_l2svm(xt, yt, 3, 0.03, tol=1e-8))
    single = fit_l2svm(xt.float(), yt, 3, 0.3, tol=1e-4)
    assert torch.allclose(cold.weight, warm.weight, atol=1e-5)
    assert warm.cg_steps < cold.cg_steps
    assert torch.allclose(single.weight.double(), cold.weight, atol=1e-3 * float(cold.weight.abs().max()))


def test_grid_search_takes_the_best_c_and_the_smaller_of_ties():
    x, y = blobs(300, 10, 3, seed=2, spread=0.01)  # separable: every C is perfect on held-out data
    search = select_c_and_refit(torch.from_numpy(x), torch.from_numpy(y), 3, (10.0, 0.1, 1.0), 0.2, seed=0)
    assert search.val_accuracy == {0.1: 1.0, 1.0: 1.0, 10.0: 1.0} and search.c == 0.1
    x, y = blobs(200, 60, 3, seed=3, spread=4.0)  # noisy and wide: large C overfits
    search = select_c_and_refit(torch.from_numpy(x), torch.from_numpy(y), 3, (1e-4, 1e-2, 10.0), 0.3, seed=0)
    assert search.c == max(search.val_accuracy, key=lambda c: (search.val_accuracy[c], -c))


def test_held_out_part_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(5), [10, 20, 30, 40, 50])
    fit, held = stratified_holdout(labels, 0.2, seed=0)
    assert np.bincount(labels[held]).tolist() == [2, 4, 6, 8, 10]
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(len(labels)))
