"""Chapter 09: an SAE's forward pass, unit-norm decoder columns, L0 and explained variance (a point of the L1
sweep), MMCS, and the dictionary update step."""

from __future__ import annotations

import torch

from ._common import _REFERENCES, _call, _number, _passed, _seeded, _tensor


def _reference_sae_forward_pass(x, W_enc, b_enc, W_dec, b_dec):
    z = torch.relu(x @ W_enc + b_enc)  # (batch, d_latent)
    x_hat = z @ W_dec.T + b_dec  # (batch, d)
    return x_hat, z


def _reference_unit_norm_decoder(W_dec):
    return W_dec / W_dec.norm(dim=0, keepdim=True).clamp_min(1e-12)


def _reference_l0_and_explained_variance(x, x_hat, z):
    l0 = float((z != 0).sum(dim=1).double().mean())  # active latents per input, averaged over the inputs
    explained = 1 - float((x - x_hat).pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum())
    return l0, explained


def _reference_mean_max_cosine(learned, true):
    learned = learned / learned.norm(dim=0, keepdim=True).clamp_min(1e-12)
    true = true / true.norm(dim=0, keepdim=True).clamp_min(1e-12)
    return float((true.T @ learned).max(dim=1).values.mean())


def _reference_dictionary_update(H, Z):
    D = torch.linalg.lstsq(Z, H).solution.T  # (d, k): least squares for H ≈ Z Dᵀ
    return D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)


_REFERENCES.update(
    sae_forward_pass=_reference_sae_forward_pass,
    unit_norm_decoder=_reference_unit_norm_decoder,
    l0_and_explained_variance=_reference_l0_and_explained_variance,
    mean_max_cosine=_reference_mean_max_cosine,
    dictionary_update=_reference_dictionary_update,
)


def _close(a, b, atol=1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol)


def _unit_columns(d, k, seed):
    W = torch.randn(d, k, generator=_seeded(seed), dtype=torch.float64)
    return W / W.norm(dim=0, keepdim=True)


def check_sae_forward_pass(sae_forward_pass) -> None:
    """Check ``sae_forward_pass(x, W_enc, b_enc, W_dec, b_dec) -> (x_hat, z)`` for one SAE.

    ``z = ReLU(x W_enc + b_enc)`` of shape (batch, d_latent), ``x_hat = z W_decᵀ + b_dec`` of shape (batch, d).
    """
    name = "sae_forward_pass"
    gen = _seeded(0)
    batch, d, L = 7, 5, 12
    x = torch.randn(batch, d, generator=gen, dtype=torch.float64)
    W_enc = torch.randn(d, L, generator=gen, dtype=torch.float64) / d**0.5
    b_enc = 0.3 * torch.randn(L, generator=gen, dtype=torch.float64)
    W_dec = _unit_columns(d, L, 1)
    b_dec = 0.5 * torch.randn(d, generator=gen, dtype=torch.float64)
    out = _call(sae_forward_pass, name, x, W_enc, b_enc, W_dec, b_dec)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise AssertionError(f"{name} should return a pair (x_hat, z), got {type(out).__name__}")
    x_hat, z = out
    if (
        isinstance(x_hat, torch.Tensor)
        and isinstance(z, torch.Tensor)
        and x_hat.shape == (batch, L)
        and z.shape == (batch, d)
    ):
        raise AssertionError(f"{name} returned (z, x_hat): return the reconstruction first, (x_hat, z).")
    _tensor(f"{name}'s x_hat", x_hat, (batch, d))
    _tensor(f"{name}'s z", z, (batch, L))
    want_hat, want_z = _reference_sae_forward_pass(x, W_enc, b_enc, W_dec, b_dec)
    if _close(z, want_z) and _close(x_hat, want_hat):
        _passed(name, sae_forward_pass, "z = ReLU(x W_enc + b_enc), x̂ = z W_decᵀ + b_dec.")
        return
    pre = x @ W_enc + b_enc
    if _close(z, pre):
        raise AssertionError(f"{name}'s codes have negative entries: you forgot the ReLU, z = ReLU(x W_enc + b_enc).")
    if _close(z, torch.relu(x @ W_enc)):
        raise AssertionError(f"{name} forgot the encoder bias: z = ReLU(x W_enc + b_enc).")
    if _close(z, torch.relu((x - b_dec) @ W_enc + b_enc)):
        raise AssertionError(
            f"{name} subtracted b_dec from x before encoding (a variant some papers use); here encode x itself: "
            "z = ReLU(x W_enc + b_enc)."
        )
    if _close(z, want_z) and _close(x_hat, want_z @ W_dec.T):
        raise AssertionError(f"{name} forgot the decoder bias: x̂ = z W_decᵀ + b_dec.")
    if _close(z, want_z) and _close(x_hat, torch.relu(want_hat)):
        raise AssertionError(f"{name} put a ReLU on the reconstruction: the decoder is linear, x̂ = z W_decᵀ + b_dec.")
    if not _close(z, want_z):
        raise AssertionError(f"{name}'s codes z do not match ReLU(x @ W_enc + b_enc).")
    raise AssertionError(
        f"{name}'s reconstruction does not match z @ W_dec.T + b_dec (W_dec's columns are the latents' directions)."
    )


def check_unit_norm_decoder(unit_norm_decoder) -> None:
    """Check ``unit_norm_decoder(W_dec)``: every column of the (d, d_latent) matrix rescaled to unit norm."""
    name = "unit_norm_decoder"
    W = 3 * torch.randn(6, 10, generator=_seeded(2), dtype=torch.float64)
    original = W.clone()
    got = _tensor(name, _call(unit_norm_decoder, name, W.clone()), W.shape)
    want = _reference_unit_norm_decoder(original)
    if _close(got, want):
        W0 = original.clone()
        W0[:, 3] = 0
        zero = _tensor(name, _call(unit_norm_decoder, name, W0), W0.shape)
        if not torch.isfinite(zero).all():
            raise AssertionError(
                f"{name} turned an all-zero column into NaN (0 / 0): clamp the norms, e.g. .clamp_min(1e-12)."
            )
        _passed(name, unit_norm_decoder, "every column (a latent's direction) now has length 1.")
        return
    if _close(got, original / original.norm(dim=1, keepdim=True)):
        raise AssertionError(
            f"{name} normalised the rows: the latents' directions are the columns, so take the norm over dim=0."
        )
    if _close(got, original / original.norm()):
        raise AssertionError(f"{name} divided by the norm of the whole matrix: normalise each column on its own.")
    if _close(got, original / original.pow(2).sum(dim=0, keepdim=True)):
        raise AssertionError(f"{name} divided by the squared norm: divide each column by its length, not its square.")
    if got.shape == original.shape and torch.allclose(got.norm(dim=0), torch.ones(10, dtype=got.dtype), atol=1e-5):
        raise AssertionError(f"{name}'s columns have unit length but changed direction: only rescale them.")
    raise AssertionError(f"{name} should return W_dec / W_dec.norm(dim=0, keepdim=True).")


def check_l0_and_explained_variance(l0_and_explained_variance) -> None:
    """Check ``l0_and_explained_variance(x, x_hat, z) -> (l0, explained_variance)``: the mean number of nonzero
    codes per input, and ``1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖²`` (the mean over the inputs, dim 0)."""
    name = "l0_and_explained_variance"
    gen = _seeded(7)
    x = torch.randn(50, 6, generator=gen, dtype=torch.float64) + torch.linspace(-2.0, 3.0, 6, dtype=torch.float64)
    x_hat = x + 0.4 * torch.randn(50, 6, generator=gen, dtype=torch.float64)
    z = torch.relu(torch.randn(50, 9, generator=gen, dtype=torch.float64) - 0.5)  # (batch, d_latent), sparse
    out = _call(l0_and_explained_variance, name, x, x_hat, z)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise AssertionError(f"{name} should return a pair of numbers (l0, explained_variance), got {out!r}")
    l0, explained = _number(f"{name}'s l0", out[0]), _number(f"{name}'s explained_variance", out[1])
    want_l0, want_ev = _reference_l0_and_explained_variance(x, x_hat, z)
    on = z != 0
    if abs(l0 - want_l0) > 1e-6:
        if abs(l0 - float(on.sum(dim=0).double().mean())) < 1e-6:
            raise AssertionError(
                f"{name}'s L0 averaged over the wrong axis (counts per latent, dim 0): count the active latents of "
                "each input (sum over dim 1), then average over the inputs."
            )
        if abs(l0 - float(on.double().mean())) < 1e-6:
            raise AssertionError(
                f"{name}'s L0 is the fraction of active latents: L0 counts them, sum over dim 1 before averaging."
            )
        if abs(l0 - float(z.abs().sum(dim=1).mean())) < 1e-6:
            raise AssertionError(f"{name} summed the codes' values (the L1 norm): L0 counts the nonzero entries.")
        raise AssertionError(f"{name}'s L0 is {l0:.4f}, expected {want_l0:.4f}: (z != 0).sum(dim=1), averaged.")
    if abs(explained - want_ev) > 1e-6:
        sse = float((x - x_hat).pow(2).sum())
        if abs(explained - sse / float((x - x.mean(dim=0)).pow(2).sum())) < 1e-6:
            raise AssertionError(
                f"{name} returned the fraction of variance UNexplained (FVU); the explained variance is 1 − FVU."
            )
        if abs(explained - (1 - sse / float(x.pow(2).sum()))) < 1e-6:
            raise AssertionError(
                f"{name} did not centre x in the denominator: the variance is Σ‖x − mean(x)‖², mean over the inputs."
            )
        if abs(explained - (1 - sse / float((x - x.mean(dim=1, keepdim=True)).pow(2).sum()))) < 1e-6:
            raise AssertionError(
                f"{name} subtracted each input's own mean (dim 1): centre on the mean input, x.mean(dim=0)."
            )
        raise AssertionError(f"{name}'s explained variance is {explained:.4f}, expected {want_ev:.4f}.")
    _passed(name, l0_and_explained_variance, f"L0 = {want_l0:.2f} active latents, explained variance {want_ev:.3f}.")


def check_mean_max_cosine(mean_max_cosine) -> None:
    """Check ``mean_max_cosine(learned, true)``: for every true direction (column of `true`), its largest
    cosine with a learned direction (column of `learned`), averaged over the true directions, as a number."""
    name = "mean_max_cosine"
    true = _unit_columns(8, 6, 3)  # (d, n_true)
    gen = _seeded(4)
    # 10 learned directions: 4 of the true ones (one flipped), rescaled, plus 6 random ones
    learned = torch.cat(
        [2.0 * true[:, [0, 1, 2]], -true[:, [3]], torch.randn(8, 6, generator=gen, dtype=torch.float64)], dim=1
    )
    got = _number(name, _call(mean_max_cosine, name, learned, true))
    want = _reference_mean_max_cosine(learned, true)
    if abs(got - want) < 1e-6:
        _passed(name, mean_max_cosine, f"MMCS = {want:.3f}: the best match of every true feature, averaged.")
        return
    unit_l = learned / learned.norm(dim=0, keepdim=True)
    cos = true.T @ unit_l  # (n_true, n_learned)
    if abs(got - float(cos.max(dim=0).values.mean())) < 1e-6:
        raise AssertionError(
            f"{name} averaged over the learned directions (max over dim 0): MMCS asks, for every TRUE feature, "
            "how well its best learned match fits, so take the max over the learned ones and average over the true."
        )
    if abs(got - float(cos.abs().max(dim=1).values.mean())) < 1e-6:
        raise AssertionError(
            f"{name} took the absolute cosine: a learned direction pointing the opposite way is not a match here."
        )
    if abs(got - float((true.T @ learned).max(dim=1).values.mean())) < 1e-6:
        raise AssertionError(f"{name} used raw dot products: normalise the learned columns to unit length first.")
    if abs(got - float(cos.mean())) < 1e-6 or abs(got - float(cos.mean(dim=1).max())) < 1e-6:
        raise AssertionError(f"{name} averaged the cosines instead of taking each true feature's maximum first.")
    raise AssertionError(f"{name} returned {got:.4f}, expected {want:.4f}.")


def check_dictionary_update(dictionary_update) -> None:
    """Check ``dictionary_update(H, Z)``: the least-squares dictionary for fixed codes (H ≈ Z Dᵀ), shape
    (d, k), with every column renormalised to unit norm."""
    name = "dictionary_update"
    gen = _seeded(5)
    N, d, k = 200, 6, 9
    D_true = _unit_columns(d, k, 6)
    Z = torch.rand(N, k, generator=gen, dtype=torch.float64) * (torch.rand(N, k, generator=gen) < 0.3)
    H = Z @ D_true.T + 0.05 * torch.randn(N, d, generator=gen, dtype=torch.float64)
    got = _call(dictionary_update, name, H, Z)
    if isinstance(got, torch.Tensor) and got.shape == (k, d):
        raise AssertionError(
            f"{name} returned shape (k, d) = {(k, d)}: the atoms are the columns of D, shape (d, k). "
            "torch.linalg.lstsq(Z, H).solution is Dᵀ: transpose it."
        )
    got = _tensor(name, got, (d, k))
    want = _reference_dictionary_update(H, Z)
    if _close(got, want):
        _passed(name, dictionary_update, "least squares for H ≈ Z Dᵀ, then every atom rescaled to unit norm.")
        return
    raw = torch.linalg.lstsq(Z, H).solution.T
    if _close(got, raw):
        raise AssertionError(f"{name} forgot to renormalise: divide every column (atom) by its norm.")
    if _close(got, raw / raw.norm(dim=1, keepdim=True)):
        raise AssertionError(f"{name} normalised the rows: the atoms are the columns, take the norm over dim=0.")
    hebb = H.T @ Z
    if _close(got, hebb / hebb.norm(dim=0, keepdim=True)):
        raise AssertionError(
            f"{name} used the correlations Hᵀ Z without the (ZᵀZ)⁻¹: that is not the least-squares fit. "
            "Use torch.linalg.lstsq(Z, H).solution.T (or Hᵀ Z (ZᵀZ)⁻¹)."
        )
    raise AssertionError(f"{name} does not match the least-squares dictionary for H ≈ Z Dᵀ with unit-norm columns.")
