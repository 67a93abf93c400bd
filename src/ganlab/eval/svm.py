"""The L2-SVM of DCGAN's transfer test: one-vs-rest linear SVMs with the squared hinge, in torch.

Each class k gets the primal problem of LIBLINEAR's L2-loss SVM (sklearn's
``LinearSVC(loss="squared_hinge", penalty="l2")``), with the same meaning of C:

    min_{w, b}  0.5 ||w||^2 + C * sum_i max(0, 1 - y_ik (w . x_i + b))^2,   y_ik = +1 if i is of class k else -1

except that the bias b is not penalised (LinearSVC penalises it as a weight on a constant feature;
with a large ``intercept_scaling`` the two agree). The objective is convex and once differentiable
with a piecewise-constant generalised Hessian, so a truncated Newton method converges in a few
dozen Hessian-vector products (Keerthi & DeCoste, JMLR 2005; LIBLINEAR's TRON is the same idea
with a trust region). All classes are solved at once: the products are (N, D) x (D, K) matmuls, so
the cost of a step is two passes over the features, whatever K is. LIBLINEAR solves the classes one
after another and takes minutes per C on CIFAR-sized problems on a CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ganlab.errors import GanlabError

log = logging.getLogger(__name__)

ARMIJO = 1e-4  # sufficient decrease of the backtracking line search
CG_FORCING = 0.1  # inexact Newton: stop CG when the residual is a tenth of the gradient (LIBLINEAR's choice)
BIAS_DAMPING = 1e-8  # keeps the bias' Hessian entry positive when no sample is inside the margin


@dataclass
class SvmFit:
    """The weights (D, K) and biases (K,) of K one-vs-rest squared-hinge SVMs, and how the solve went."""

    weight: torch.Tensor
    bias: torch.Tensor
    newton_steps: int
    cg_steps: int
    converged: bool

    def decision_function(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, K) scores; the predicted class is the argmax."""
        return _xw(x, self.weight) + self.bias


def one_vs_rest_targets(labels: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """Class indices (N,) -> (N, K) of +1 (own class) and -1 (all others)."""
    y = torch.full((len(labels), n_classes), -1.0, dtype=dtype, device=labels.device)
    y[torch.arange(len(labels), device=labels.device), labels] = 1.0
    return y


def squared_hinge_objective(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                            c: float) -> torch.Tensor:
    """The primal objective of each class, (K,), accumulated in float64."""
    margin = (1 - y * (_xw(x, weight) + bias)).clamp_min(0).double()
    return 0.5 * weight.double().pow(2).sum(0) + c * margin.pow(2).sum(0)


@dataclass
class GramPreconditioner:
    """Eigen-decomposition of the Gram matrix X^T X of the features (computed once per feature set).

    Class k's generalised Hessian is I + 2C X_A^T X_A over the samples A inside its margin; taking
    X_A^T X_A ~ (|A| / n) X^T X gives a preconditioner that costs two (D, D) products per use and
    cuts the conjugate-gradient steps several-fold on correlated features (conv features, pixels)."""

    eigenvalues: torch.Tensor  # (D,)
    eigenvectors: torch.Tensor  # (D, D), columns
    n_rows: int

    @classmethod
    def of(cls, x: torch.Tensor, chunk: int = 8192) -> GramPreconditioner:
        gram = torch.zeros(x.shape[1], x.shape[1], dtype=x.dtype, device=x.device)
        for part in x.split(chunk):  # (n, D) -> (D, D)
            gram.addmm_(part.T, part)
        eigenvalues, eigenvectors = torch.linalg.eigh(gram)
        return cls(eigenvalues.clamp_min(0), eigenvectors, len(x))

    def solve(self, r: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """(I + scale_k X^T X / n)^-1 r_k for each column k of r (D, K)."""
        coef = (self.eigenvectors.T @ r) / (1 + self.eigenvalues[:, None] * (scale / self.n_rows)[None, :])
        return self.eigenvectors @ coef


def _xw(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(N, D) @ (D, K); as F.linear, which MKL runs twice as fast as x @ w for a thin w."""
    return torch.nn.functional.linear(x, w.T.contiguous())


def _xtr(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """X^T r, (D, K); as (r^T X)^T, which reads X row by row (x.T @ r is ~10x slower on CPU)."""
    return (r.T.contiguous() @ x).T


def fit_l2svm(x: torch.Tensor, labels: torch.Tensor, n_classes: int, c: float, *,
              init: SvmFit | None = None, tol: float = 1e-3, max_newton: int = 100, max_cg: int = 200,
              preconditioner: GramPreconditioner | None = None) -> SvmFit:
    """Solve the K one-vs-rest problems on features ``x`` (N, D) and class indices ``labels`` (N,).

    Stops when every class' gradient norm is below ``tol`` times its norm at w = 0, b = 0 (LIBLINEAR's
    criterion, so tolerances compare). ``init`` warm-starts from another fit (the neighbouring C of
    a grid); ``preconditioner`` (of x or of a superset of its rows) speeds up the inner CG. Works in
    x's dtype and on x's device."""
    if x.dim() != 2 or len(x) != len(labels):
        raise GanlabError(f"features must be (N, D) with one label each; got {tuple(x.shape)} and {len(labels)} labels")
    if c <= 0:
        raise GanlabError(f"C must be positive, got {c}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise GanlabError(f"labels must lie in 0..{n_classes - 1}")
    dtype, device = x.dtype, x.device
    labels = labels.to(device)
    y = one_vs_rest_targets(labels, n_classes, dtype)
    if init is not None:
        weight, bias = init.weight.to(device, dtype).clone(), init.bias.to(device, dtype).clone()
    else:
        weight = torch.zeros(x.shape[1], n_classes, dtype=dtype, device=device)
        bias = torch.zeros(n_classes, dtype=dtype, device=device)
    # gradient norm at zero: margin 1 everywhere, residual = y
    g0 = torch.sqrt((2 * c * _xtr(x, y)).double().pow(2).sum(0) + (2 * c * y.sum(0)).double().pow(2))
    scores = _xw(x, weight) + bias
    cg_total, step = 0, 0
    converged = False
    for step in range(max_newton + 1):
        margin = 1 - y * scores
        active = (margin > 0).to(dtype)  # (N, K): the samples inside each class' margin
        residual = active * margin * y
        grad_w = weight - 2 * c * _xtr(x, residual)
        grad_b = -2 * c * residual.sum(0)
        gnorm = torch.sqrt(grad_w.double().pow(2).sum(0) + grad_b.double().pow(2))
        todo = gnorm > tol * g0
        if not bool(todo.any()):
            converged = True
            break
        if step == max_newton:
            break
        # Newton direction: H p = -g, H [v; u] = [v + 2C X^T (A (X v + u)); 2C sum A (X v + u)]
        def hessian(v: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            s = active * (_xw(x, v) + u)
            return v + 2 * c * _xtr(x, s), 2 * c * s.sum(0) + BIAS_DAMPING * u

        n_active = active.sum(0)
        if preconditioner is not None:
            def precondition(r_w: torch.Tensor, r_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return preconditioner.solve(r_w, 2 * c * n_active), r_b / (2 * c * n_active + BIAS_DAMPING)
        else:
            def precondition(r_w: torch.Tensor, r_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return r_w, r_b

        dir_w, dir_b, n_cg = _conjugate_gradient(hessian, precondition, -grad_w, -grad_b, todo, max_cg)
        cg_total += n_cg
        # backtracking line search per class, on the cached scores: f(t) needs only X p once
        d_scores = _xw(x, dir_w) + dir_b
        f0 = 0.5 * weight.double().pow(2).sum(0) + c * (active * margin).double().pow(2).sum(0)
        slope = (grad_w * dir_w).double().sum(0) + (grad_b * dir_b).double()
        t = torch.ones(n_classes, dtype=torch.float64, device=device)
        accepted = ~todo
        for _ in range(30):
            tt = t.to(dtype)
            trial_w = weight + tt * dir_w
            f = 0.5 * trial_w.double().pow(2).sum(0) + \
                c * (1 - y * (scores + tt * d_scores)).clamp_min(0).double().pow(2).sum(0)
            accepted = accepted | (f <= f0 + ARMIJO * t * slope)
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, t / 2)
        t = torch.where(todo & accepted, t, torch.zeros_like(t)).to(dtype)
        if not bool((t > 0).any()):
            log.debug("L2-SVM: line search made no progress at Newton step %d (float precision reached)", step)
            break
        weight = weight + t * dir_w
        bias = bias + t * dir_b
        scores = scores + t * d_scores
    return SvmFit(weight, bias, step, cg_total, converged)


def _conjugate_gradient(hessian, precondition, rhs_w: torch.Tensor, rhs_b: torch.Tensor,  # noqa: ANN001
                        todo: torch.Tensor, max_iter: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Column-wise preconditioned CG on H p = rhs for the columns in ``todo``; the others stay 0.
    Stops a column when its residual is CG_FORCING times its right-hand side."""
    mask = todo.to(rhs_w.dtype)
    p_w, p_b = torch.zeros_like(rhs_w), torch.zeros_like(rhs_b)
    r_w, r_b = rhs_w * mask, rhs_b * mask
    z_w, z_b = precondition(r_w, r_b)
    d_w, d_b = z_w.clone(), z_b.clone()
    rz = (r_w * z_w).double().sum(0) + (r_b * z_b).double()
    rr = r_w.double().pow(2).sum(0) + r_b.double().pow(2)
    stop = (CG_FORCING**2) * rr
    it = 0
    for it in range(1, max_iter + 1):
        active = (rr > stop) & todo
        if not bool(active.any()):
            break
        h_w, h_b = hessian(d_w, d_b)
        dhd = (d_w * h_w).double().sum(0) + (d_b * h_b).double()
        alpha = torch.where(active, rz / dhd.clamp_min(1e-300), torch.zeros_like(rz)).to(rhs_w.dtype)
        p_w, p_b = p_w + alpha * d_w, p_b + alpha * d_b
        r_w, r_b = r_w - alpha * h_w, r_b - alpha * h_b
        z_w, z_b = precondition(r_w, r_b)
        rz_new = (r_w * z_w).double().sum(0) + (r_b * z_b).double()
        beta = torch.where(active, rz_new / rz.clamp_min(1e-300), torch.zeros_like(rz)).to(rhs_w.dtype)
        d_w, d_b = z_w + beta * d_w, z_b + beta * d_b
        rz = torch.where(active, rz_new, rz)
        rr = torch.where(active, r_w.double().pow(2).sum(0) + r_b.double().pow(2), rr)
    return p_w, p_b, it


@dataclass
class Standardizer:
    """Per-feature mean and standard deviation of a fit set; constant features are left unscaled."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor, chunk: int = 8192) -> Standardizer:
        total = torch.zeros(x.shape[1], dtype=torch.float64)
        sq = torch.zeros(x.shape[1], dtype=torch.float64)
        for start in range(0, len(x), chunk):  # float64 sums without a float64 copy of x
            part = x[start : start + chunk].double()
            total += part.sum(0)
            sq += part.pow(2).sum(0)
        mean = total / max(len(x), 1)
        std = (sq / max(len(x), 1) - mean.pow(2)).clamp_min(0).sqrt()
        std = torch.where(std > 1e-6 * std.max().clamp_min(1e-12), std, torch.ones_like(std))
        return cls(mean.to(x.dtype), std.to(x.dtype))

    def apply_(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` in place (features are large; no second copy)."""
        return x.sub_(self.mean).div_(self.std)


def accuracy(fit: SvmFit, x: torch.Tensor, labels: torch.Tensor) -> float:
    return float((fit.decision_function(x).argmax(1).cpu() == labels.cpu()).double().mean()) if len(x) else float("nan")


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, held-out indices): ``fraction`` of each class held out, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    held = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        held.append(rng.permutation(idx)[: int(round(fraction * len(idx)))])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    keep = np.ones(len(labels), dtype=bool)
    keep[held_out] = False
    return np.flatnonzero(keep), held_out


@dataclass
class GridSearch:
    """The C grid's validation accuracies, the chosen C and the fit on all of train with it."""

    val_accuracy: dict[float, float]
    c: float
    fit: SvmFit


def select_c_and_refit(x: torch.Tensor, labels: torch.Tensor, n_classes: int, grid: tuple[float, ...],
                       val_fraction: float, seed: int, tol: float = 1e-3, progress: bool = False,
                       precondition: bool = True) -> GridSearch:
    """Choose C on a stratified held-out part of (x, labels), then refit on all of it with that C.

    The grid is walked from small C to large (warm starts along the regularisation path); ties go
    to the smaller C (the stronger regulariser)."""
    from tqdm.auto import tqdm

    preconditioner = GramPreconditioner.of(x) if precondition else None
    fit_idx, val_idx = stratified_holdout(labels.cpu().numpy(), val_fraction, seed)
    if not len(val_idx) or not len(fit_idx):
        raise GanlabError(f"validation fraction {val_fraction} of {len(labels)} examples leaves an empty part")
    fit_idx_t, val_idx_t = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
    x_fit, y_fit = x[fit_idx_t], labels[fit_idx_t]
    x_val, y_val = x[val_idx_t], labels[val_idx_t]
    scores: dict[float, float] = {}
    fits: dict[float, SvmFit] = {}
    previous = None
    for c in tqdm(sorted(grid), desc="C grid", leave=False, disable=not progress):
        previous = fit_l2svm(x_fit, y_fit, n_classes, c, init=previous, tol=tol, preconditioner=preconditioner)
        scores[c] = accuracy(previous, x_val, y_val)
        fits[c] = previous
        log.info("L2-SVM C=%g: validation accuracy %.4f (%d Newton, %d CG steps%s)", c, scores[c],
                 previous.newton_steps, previous.cg_steps, "" if previous.converged else ", NOT converged")
    del x_fit, x_val
    best = max(sorted(scores), key=lambda k: scores[k])  # max keeps the first (smallest C) of ties
    final = fit_l2svm(x, labels, n_classes, best, init=fits[best], tol=tol, preconditioner=preconditioner)
    return GridSearch(scores, best, final)
