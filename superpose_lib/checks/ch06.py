"""Chapter 06: reading a trained toy model's geometry (represented features, antipodal pairs, superposition),
sparse batches from one draw, training a toy model with the learner's own loop, correlated and anticorrelated
pairs of features."""

from __future__ import annotations

import math

import torch

from .. import interference, metrics, toy_models
from ..features import SparseFeatures
from ._common import Exercise, declare, seeded, uniform_gap


def _pentagon_with_dropped(n_dropped: int) -> torch.Tensor:
    angles = torch.arange(5.0) * 2 * math.pi / 5
    W = torch.stack([torch.cos(angles), torch.sin(angles)])  # (2, 5)
    return torch.cat([W, 0.05 * torch.randn(2, n_dropped, generator=seeded(0))], dim=1)  # (2, 5 + n_dropped)


def _represented_cases():
    wide = torch.cat([torch.eye(3), torch.full((3, 1), 0.4)], dim=1)  # last column: length 0.69, squared 0.48
    gen = seeded(1)
    spread = [  # random lengths: counts that change from run to run
        torch.nn.functional.normalize(torch.randn(3, k, generator=gen), dim=0) * 1.5 * torch.rand(k, generator=gen)
        for k in (8, 13, 21)
    ]
    fixed = [dict(W=_pentagon_with_dropped(2)), dict(W=wide), dict(W=wide * 2, threshold=1.5)]
    return fixed + [dict(W=W) for W in spread]


def _antipodal_cases():
    # an exact pair; a pair at cos −0.95 with short columns (raw dot −0.53) and one with long columns (raw dot
    # −1.37); a loner with a tiny opposite feature (not represented); a column at cos −0.87 with the loner
    s = math.sqrt(1 - 0.95**2)
    W = torch.tensor(
        [
            [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
            [0.0, 0.0, 0.7, -0.95 * 0.8, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, s * 0.8, 1.0, -0.03, -0.866, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.2, -0.95 * 1.2],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, s * 1.2],
        ]
    )
    # and a random number of exact pairs in random directions among random loners
    gen = seeded(1)
    n_pairs = int(torch.randint(0, 5, (1,), generator=gen))
    u = torch.nn.functional.normalize(torch.randn(6, n_pairs, generator=gen), dim=0)
    more = torch.cat([u, -0.8 * u, 0.2 * torch.randn(6, 3, generator=gen)], dim=1)
    more = more[:, torch.randperm(more.shape[1], generator=gen)]
    return [dict(W=W), dict(W=1.5 * W, threshold=1.1), dict(W=torch.eye(3)), dict(W=more)]


def _antipodal_by(test):
    def count(W, threshold=0.5):
        norms = W.norm(dim=0)
        cos = (W.T @ W) / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
        keep = (norms > threshold)[:, None] & (norms > threshold)[None, :]
        return int((test(cos, W.T @ W) & keep).triu(1).sum())

    return count


def _superposition_cases():
    W = torch.cat([1.3 * _pentagon_with_dropped(0), torch.zeros(2, 1)], dim=1)  # a dropped feature, exactly zero
    return [dict(W=W), dict(W=torch.randn(4, 9, generator=seeded(1)))]


def _one_draw(n_batch, n_features, feature_probability, generator=None):
    model = toy_models.ToyModel(n_features, 1, feature_probability=feature_probability)
    return model.generate_batch(n_batch, generator=generator)[:, 0]  # (n_batch, n_features)


def _trained(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None, *, on_step=None,
             from_zero=False, **model_options):  # fmt: skip
    """The library's recipe: one ToyModel trained by `toy_models.train` (Adam, constant rate); returns W (d_hidden,
    n_features), b (n_features,) and the loss history (steps,). The keywords make the named mistakes: `on_step`
    changes the model after every step, `from_zero` starts from W = 0, `model_options` go to the model."""
    model = toy_models.ToyModel(len(importance), d_hidden, feature_probability=feature_probability,
                                importance=importance.float(), generator=generator, **model_options)  # fmt: skip
    if from_zero:
        model.W.data.zero_()
    history = toy_models.train(model, steps, batch_size, lr, generator=generator, progress=False, on_step=on_step)
    return model.W.detach()[0], model.b.detach()[0], history[:, 0]


def _training_cases():
    # A sparse case where a pentagon forms (every 2-neuron model; the importance plays no role) and a denser one
    # with falling importance, where the model must keep the most important features; steps, batch size and
    # learning rate differ between them, so that none of them can be hard-coded.
    gen = seeded(0)
    decay = float(0.4 + 0.2 * torch.rand(1, generator=gen))
    lr_one_step = float(0.005 + 0.05 * torch.rand(1, generator=gen))
    return [
        dict(importance=torch.ones(5), feature_probability=0.05, d_hidden=2, steps=500, batch_size=256, lr=0.02),
        dict(
            importance=decay ** torch.arange(6.0),
            feature_probability=0.5,
            d_hidden=3,
            steps=400,
            batch_size=200,
            lr=0.03,
        ),  # fmt: skip
        # one step, dense: Adam's first step moves every parameter whose gradient is not 0 by exactly lr
        dict(importance=torch.ones(6), feature_probability=0.5, d_hidden=3, steps=1, batch_size=256, lr=lr_one_step),
    ]


def _training_statistics(outputs, inputs) -> torch.Tensor:
    """The best of the trained models (one in 50 runs of the sparse case stops at four features): its loss on
    fresh batches (the same ones for every answer) and the mean of the last quarter of its own loss history, both
    as fractions of the loss of a model that keeps no feature (W = 0, b = p/2: Iᵢ (p/3 − p²/4), chapter 05); and,
    over all the models, the spread of that last quarter relative to its mean, which falls as 1/√batch_size (the
    loss of a batch is a mean over its samples), so that a loop that ignores batch_size is told apart."""
    W, b, history = outputs  # (calls, d_hidden, n_features), (calls, n_features), (calls, steps)
    if inputs["steps"] == 1:  # after Adam's first step from b = 0, |bᵢ| = lr wherever bᵢ's gradient is not 0
        return torch.tensor([0.0, 0.0, 0.0, float(b.abs().median()) / inputs["lr"]], dtype=torch.float64)
    p, importance = inputs["feature_probability"], inputs["importance"].double()
    keeps_nothing = importance.mean() * (p / 3 - p**2 / 4)
    losses = torch.tensor([interference.expected_loss(w, c, p, importance, n_samples=20_000, seed=0)
                           for w, c in zip(W, b, strict=True)])  # fmt: skip
    best = int(losses.argmin())
    last_quarter = history[:, -(history.shape[1] // 4) :].double()  # (calls, steps // 4)
    late = last_quarter[best].mean()
    noise = (last_quarter.std(dim=1) / last_quarter.mean(dim=1)).mean()
    return torch.cat([torch.stack([losses[best], late]) / keeps_nothing, noise.reshape(1), torch.zeros(1)])


def _without_zero_grad(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None):
    """Adam on the library's model and loss, with gradients that pile up from step to step."""
    model = toy_models.ToyModel(len(importance), d_hidden, feature_probability=feature_probability,
                                importance=importance.float(), generator=generator)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        x = model.generate_batch(batch_size, generator=generator)
        loss = model.loss(x, model(x))
        loss.backward()  # no optimizer.zero_grad(): each gradient adds to the previous ones
        optimizer.step()
        history.append(loss.item())
    return model.W.detach()[0], model.b.detach()[0], torch.tensor(history)


def _summed_over_features(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None):
    """Adam's steps do not change when the loss is multiplied by a constant: only the reported history does."""
    W, b, history = _trained(importance, feature_probability, d_hidden, steps, batch_size, lr, generator)
    return W, b, history * len(importance)


def _pair_features(n_batch, n_pairs, feature_probability, correlation, generator=None):
    features = SparseFeatures(2 * n_pairs, feature_probability, correlation=correlation, set_size=2)
    return features.sample(n_batch, generator)[0]  # (n_batch, 2 n_pairs): features 2j and 2j + 1 are pair j


def _pair_statistics(x: torch.Tensor) -> torch.Tensor:
    """(P(first of a pair), P(second), P(both), the largest |P(pairs i and j both active) − P(i) P(j)| over
    pairs i ≠ j, the mean of the present values and their largest distance from the uniform law's distribution
    function at the twentieths, the mean (a − b)² of the two values of a pair when both are present (0 when never),
    and of two present values from different pairs)."""
    pairs = x.reshape(-1, x.shape[-1] // 2, 2)  # (samples, pairs, 2)
    on = pairs != 0
    n_on = on.sum()
    both = on[..., 0] & on[..., 1]
    active = on.any(dim=-1).double()  # (samples, pairs)
    joint = active.T @ active / len(active) - torch.outer(active.mean(0), active.mean(0))
    within = (pairs[..., 0] - pairs[..., 1]).double().pow(2) * both
    s0, s1, s2 = on.sum((1, 2)).double(), pairs.sum((1, 2)).double(), pairs.double().pow(2).sum((1, 2))
    across = (2 * s0 * s2 - 2 * s1**2).sum() - 2 * within.sum()  # Σ over ordered present pairs i ≠ j, other pairs
    n_across = (s0**2 - s0).sum() - 2 * both.sum()
    return torch.stack(
        [
            on[..., 0].double().mean(),
            on[..., 1].double().mean(),
            both.double().mean(),
            (joint - torch.diag(joint.diagonal())).abs().max(),
            pairs.sum() / n_on.clamp_min(1),
            uniform_gap(pairs),
            within.sum() / both.sum().clamp_min(1),
            across / n_across.clamp_min(1),
        ]
    )


def _pair_cases():
    # Over 12 seeds the statistics spread by at most 0.008 at these sizes, against the tolerance 0.015; the
    # anticorrelated case at p = 0.45 separates the mistakes that lower a marginal by p²/2 or p².
    return [
        dict(n_batch=n, n_pairs=k, feature_probability=p, correlation=c)
        for n, k, p, c in (
            (40_000, 5, 0.2, "anticorrelated"),
            (40_000, 5, 0.2, "correlated"),
            (40_000, 2, 0.45, "anticorrelated"),
            (60_000, 6, 0.05, "correlated"),
        )
    ]


def _pairs_from(present, shared_value=False, blocks=False):
    """A pair sampler whose presence is ``present(u, p, correlation, generator)``, a (n_batch, n_pairs, 2) mask
    made from one uniform draw u per pair; values uniform on [0, 1], drawn independently within a pair unless
    `shared_value`; pair j in features 2j and 2j + 1, or in j and n_pairs + j if `blocks`."""

    def sample(n_batch, n_pairs, feature_probability, correlation, generator=None):
        values = torch.rand(n_batch, n_pairs, 1 if shared_value else 2, generator=generator).expand(-1, -1, 2)
        u = torch.rand(n_batch, n_pairs, 1, generator=generator)
        x = values * present(u, feature_probability, correlation, generator)
        return x.transpose(1, 2).reshape(n_batch, 2 * n_pairs) if blocks else x.reshape(n_batch, 2 * n_pairs)

    return sample


def _right_pair(u, p, correlation, generator=None):
    if correlation == "correlated":
        return torch.cat([u < p, u < p], dim=-1)  # one coin for the pair
    return torch.cat([u < p, (u >= p) & (u < 2 * p)], dim=-1)  # the first, the second, or neither


def _two_coins(zero):
    """Anticorrelated pairs from two independent coins, one feature zeroed when both came up: "second" or "either"."""

    def present(u, p, correlation, generator=None):
        if correlation == "correlated":
            return _right_pair(u, p, correlation)
        first, second = u < p, torch.rand(u.shape, generator=generator) < p
        if zero == "second":
            return torch.cat([first, second & ~first], dim=-1)
        keep_first = torch.rand(u.shape, generator=generator) < 0.5
        clash = first & second
        return torch.cat([first & ~(clash & ~keep_first), second & ~(clash & keep_first)], dim=-1)

    return present


def _pair_then_one(u, p, correlation, generator=None):
    """The paper's anticorrelated sets, with p the pair's chance to be active: each feature gets only p / 2."""
    if correlation == "correlated":
        return _right_pair(u, p, correlation)
    return torch.cat([u < p / 2, (u >= p / 2) & (u < p)], dim=-1)


def _coin_per_feature(u, p, correlation, generator=None):
    if correlation == "anticorrelated":
        return _right_pair(u, p, correlation)
    return torch.cat([u < p, torch.rand(u.shape, generator=generator) < p], dim=-1)


def _one_coin_per_sample(u, p, correlation, generator=None):
    return _right_pair(u[:, :1].expand_as(u), p, correlation)


def _always(kind):
    """Presence that ignores the `correlation` argument and pairs every feature as `kind`."""
    return lambda u, p, correlation, generator=None: _right_pair(u, p, kind)


def _swapped(u, p, correlation, generator=None):
    return _right_pair(u, p, "anticorrelated" if correlation == "correlated" else "correlated")


declare(
    Exercise(
        "count_represented(W, threshold=0.5)",
        reference=metrics.n_represented,
        cases=_represented_cases,
        returns="count",
        mistakes={
            "you counted the rows of W: features are its columns, so take norms along "
            "dim=0.": lambda W, threshold=0.5: int((W.norm(dim=1) > threshold).sum()),
            "you compared squared lengths with the threshold: compare the length ‖Wᵢ‖ "
            "itself.": lambda W, threshold=0.5: int((W.pow(2).sum(dim=0) > threshold).sum()),
            "it ignores its threshold argument.": lambda W, threshold=0.5: int((W.norm(dim=0) > 0.5).sum()),
        },
        formula="the number of columns with ‖W[:, i]‖ > threshold (an int; a 0-d tensor is accepted).",
        passed="one count of features longer than the threshold.",
    ),
    Exercise(
        "count_antipodal_pairs(W, threshold=0.5)",
        reference=metrics.antipodal_pairs,
        cases=_antipodal_cases,
        returns="count",
        mistakes={
            "you counted each pair twice: count each unordered pair once (i < j).": lambda W, threshold=0.5: (
                2 * metrics.antipodal_pairs(W, threshold)
            ),
            "only pairs of represented features count (both longer than the threshold).": lambda W, threshold=0.5: (
                metrics.antipodal_pairs(W, 1e-9)
            ),
            "any negative cosine is not antipodal: a pair needs cosine below −0.9.": _antipodal_by(
                lambda cos, dots: cos < 0
            ),
            "compare cosines, not raw dot products: normalise the columns first.": _antipodal_by(
                lambda cos, dots: dots < -0.9
            ),
            "a trained pair is rarely exactly opposite: count cosines below −0.9, not only cos = −1.": _antipodal_by(
                lambda cos, dots: torch.isclose(cos, torch.tensor(-1.0))
            ),
        },
        formula="the number of pairs i < j of represented features (longer than threshold) with cosine < −0.9.",
        passed="antipodal pairs counted once each.",
    ),
    Exercise(
        "feature_superposition(W)",
        reference=metrics.superposition,
        cases=_superposition_cases,
        atol=1e-4,
        mistakes={
            "a feature that is not represented (a zero column) gets 0, not NaN.": lambda W: (
                ((W.T @ W).pow(2).sum(1) - (W.T @ W).diagonal().pow(2)) / (W.T @ W).diagonal()
            ),
            "you included the feature itself: sum over j ≠ i only.": lambda W: (
                metrics.superposition(W) + W.pow(2).sum(dim=0)
            ),
            "you forgot to normalise: project onto the unit vector Ŵᵢ = Wᵢ / ‖Wᵢ‖.": lambda W: (
                (W.T @ W).pow(2).sum(1) - (W.T @ W).diagonal().pow(2)
            ),
        },
        formula="Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² per feature i, 0 for a zero column.",
        passed="each feature's overlap with all the others.",
    ),
    Exercise(
        "one_draw_batch(n_batch, n_features, feature_probability, generator=None)",
        reference=_one_draw,
        cases=lambda: [
            dict(n_batch=n, n_features=f, feature_probability=p) for n, f, p in ((2_000, 10, 0.2), (1_500, 8, 0.05))
        ],
        statistics=lambda x: x.reshape(-1),  # the same draw gives the same values: compared entry by entry
        mistakes={
            "you swapped sparsity and density: "
            "feature_probability is the chance a "
            "feature is present.": lambda n_batch, n_features, feature_probability, generator=None: _one_draw(
                n_batch, n_features, 1 - feature_probability, generator
            ),
            "you kept u itself for present features, so values lie in [1 − p, 1]: rescale to "
            "(u − (1 − p)) / p, which is uniform "
            "on [0, 1].": lambda n_batch, n_features, feature_probability, generator=None: (
                lambda u: u * (u > 1 - feature_probability)
            )(torch.rand(n_batch, n_features, generator=generator)),
            "use exactly one torch.rand(n_batch, n_features, generator=generator) draw: presence is u > 1 − p "
            "and the value (u − (1 − p)) / p.": lambda n_batch, n_features, feature_probability, generator=None: (
                torch.rand(n_batch, n_features, generator=generator)
                * (torch.rand(n_batch, n_features, generator=generator) < feature_probability)
            ),
        },
        formula="max(0, (u − (1 − p)) / p) for ONE uniform draw u = torch.rand(n_batch, n_features, "
        "generator=generator).",
        passed="one uniform draw gives both presence and value.",
    ),
    Exercise(
        "train_toy_model(importance, feature_probability, d_hidden, steps, batch_size, lr, generator=None)",
        reference=_trained,
        cases=_training_cases,
        returns=("tensor", "tensor", "tensor"),
        calls=3,
        statistics=_training_statistics,
        statistic_names=(
            "the loss of your best trained model on fresh batches (a fraction of the loss of a model that keeps no "
            "feature)",
            "the mean of the last quarter of its loss history (same units)",
            "the spread of the last quarter of your loss histories relative to their mean (it shrinks as "
            "1/√batch_size, and grows when the model settles in a worse arrangement)",
            "(in the one-step case) the median |bᵢ| after one step, in units of lr: Adam's first step is exactly lr",
        ),
        # Measured, best of 3 each time, over 40 seeds of the library's loop and 40 of a learner's plain loop that
        # draws in another order: the largest relative gap between two runs is 0.17 (loss) and 0.23 (history) in
        # the sparse case, 0.02 and 0.03 in the dense one, against the tolerance 0.35. Over 12 seeds the broken
        # loops among the mistakes are off by at least 0.58 (no bias), 0.67 (Adam's default rate, dense case),
        # 3 (no ReLU; the history summed over features) and 8 or more (the others) in one case at least. The late
        # history's relative spread, over 3 seeds of the library's loop, was 0.43-0.47 (sparse) and 0.051-0.059
        # (dense); with the batch size hard-coded to 1024 it halves (0.23, 0.025), to 64 it doubles (0.96, 0.09),
        # and a flat history gives 0. A converged model does not remember the rate that brought it there, so a
        # learning rate hard-coded near the case's is caught by the one-step case instead (a random lr in
        # [0.005, 0.055]: the first Adam step from b = 0 makes the median |bᵢ| exactly lr).
        rtol=(0.35, 0.35, 0.35, 0.05),  # the first step's size is exact: Adam's bias correction makes it lr
        atol=0.0,
        not_yours=(toy_models.train,),
        mistakes={
            "your model has no ReLU: the output is x' = ReLU(Wᵀ W x + b), and without the ReLU a sparse model keeps "
            "only as many features as it has neurons.": lambda *args, generator=None: _trained(
                *args, generator=generator, activation="linear"
            ),
            "your model ignores feature_probability (dense batches?): draw every batch with one_draw_batch(batch_size, "
            "n_features, feature_probability, generator).": lambda importance, p, *rest, generator=None: _trained(
                importance, 1.0, *rest, generator=generator
            ),
            "your loss ignores the importance: weight each feature's squared error by importance[i], mean(importance "
            "* (x − x')²).": lambda importance, *rest, generator=None: _trained(
                torch.ones_like(importance), *rest, generator=generator
            ),
            "your loss history is n_features times too large: average the weighted squared errors over the features "
            "too, as the library's loss does (.mean() over batch and features).": _summed_over_features,
            "your model trains without a bias (or with b left out of the optimizer): b is a parameter too, "
            "torch.optim.Adam([W, b], lr=lr), and it goes inside the ReLU. (A W that starts too large, torch.randn "
            "without the factor √(2 / (n_features + d_hidden)), ends up the same way.)": lambda *args, generator=None: (
                _trained(*args, generator=generator, on_step=lambda step, model: model.b.data.zero_())
            ),
            "did you forget optimizer.zero_grad()? Without it each step adds its gradient to all the previous "
            "ones.": _without_zero_grad,
            "your W never moves: at W = 0 its gradient is 0 too. Start from random weights, std √(2 / (n_features + "
            "d_hidden)).": lambda *args, generator=None: _trained(*args, generator=generator, from_zero=True),
            "your model learns too slowly: torch.optim.Adam's default learning rate is 1e-3; pass "
            "lr=lr.": lambda *args, generator=None: _trained(*args[:-1], 1e-3, generator=generator),
        },
        formula="Adam (learning rate lr) for `steps` steps on fresh batches of batch_size samples, minimising "
        "mean(importance · (x − ReLU(Wᵀ W x + b))²); W starts random (std √(2 / (n_features + d_hidden))), b at "
        "0; returns W (d_hidden, n_features), b (n_features,) and the loss of every step (steps,).",
        passed="your own loop trains the toy model as well as the library's does.",
    ),
    Exercise(
        "pair_features(n_batch, n_pairs, feature_probability, correlation, generator=None)",
        reference=_pair_features,
        cases=_pair_cases,
        statistics=_pair_statistics,
        statistic_names=(
            "P(first of a pair present)",
            "P(second present)",
            "P(both present)",
            "the largest dependence between two pairs' activity, |P(i and j) − P(i) P(j)|",
            "the mean present value",
            "the largest gap between the present values' distribution and the uniform one",
            "the mean (a − b)² of a pair's two present values",
            "the mean (a − b)² of present values from different pairs",
        ),
        atol=0.015,
        mistakes={
            "two independent coins with the second feature zeroed when both come up leave the second present only "
            "p − p² of the time: draw one uniform u per pair, the first feature when u < p, the second when "
            "p ≤ u < 2p.": _pairs_from(_two_coins("second")),
            "two independent coins with one feature zeroed when both come up leave each present only p − p²/2 of the "
            "time: draw one uniform u per pair, the first feature when u < p, the second when p ≤ u < "
            "2p.": _pairs_from(_two_coins("either")),
            "each feature must keep its probability p: an anticorrelated pair is active with probability 2p (the "
            "first feature or the second), not p.": _pairs_from(_pair_then_one),
            "a correlated pair shares its coin, not its value: draw the two values independently.": _pairs_from(
                _right_pair, shared_value=True
            ),
            "the features of a correlated pair are present together or absent together: one coin per pair, not "
            "one per feature.": _pairs_from(_coin_per_feature),
            "each pair has its own coin: draw u with shape (n_batch, n_pairs, 1), not one per sample.": _pairs_from(
                _one_coin_per_sample
            ),
            "you swapped the two cases: correlated pairs are present together, anticorrelated ones never "
            "together.": _pairs_from(_swapped),
            'every pair came out correlated, whatever `correlation` says: test `correlation == "correlated"` '
            '(note that `"correlated" in "anticorrelated"` is True).': _pairs_from(_always("correlated")),
            "every pair came out anticorrelated, whatever `correlation` says: correlated pairs are present together "
            '(test `correlation == "correlated"`).': _pairs_from(_always("anticorrelated")),
            "pair j is features 2j and 2j + 1 (side by side), not j and n_pairs + j: build a (n_batch, n_pairs, 2) "
            "tensor and reshape it to (n_batch, 2 * n_pairs), or torch.stack(..., dim=-1) the two "
            "features.": _pairs_from(_right_pair, blocks=True),
        },
        formula="every feature present with probability p, a correlated pair always together, an anticorrelated "
        "pair never, pairs independent, values uniform on [0, 1] and independent of each other.",
        passed="each feature present with probability p, pairs together or never together, values uniform and "
        "independent, drawn from its generator.",
    ),
)
