"""Sparse autoencoders (superpose_lib.sae): the synthetic benchmark, shapes and padding, hand gradients against
autograd, TopK, training invariants, seeds, dead-latent resampling, evaluation, and recovery of known features."""

import math

import pytest
import torch

from superpose_lib import metrics
from superpose_lib import sae as sae_module
from superpose_lib.sae import SAE, SyntheticFeatures, evaluate_sae, train_sae

# The recipe the tests and chapter 09 use: 128 features in 64 dimensions, found in about a second per instance.
RECIPE = dict(steps=1_000, batch_size=128, lr=1e-2, schedule="cosine")


# --- SyntheticFeatures ---------------------------------------------------------------------------------------


def test_synthetic_features_shapes_unit_columns_and_probabilities():
    data = SyntheticFeatures(128, 64, mean_active=5.0, decay=0.99, seed=0)
    assert data.features.shape == (64, 128) and data.probabilities.shape == (128,)
    assert torch.allclose(data.features.norm(dim=0), torch.ones(128), atol=1e-5)
    assert data.probabilities.sum().item() == pytest.approx(5.0, rel=1e-5)
    ratios = data.probabilities[1:] / data.probabilities[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 0.99), atol=1e-5)


def test_synthetic_samples_follow_the_probabilities_and_the_formula():
    data = SyntheticFeatures(32, 16, mean_active=4.0, decay=0.9, seed=0)
    x, codes = data.sample(40_000, seed=1, return_codes=True)
    assert x.shape == (40_000, 16) and codes.shape == (40_000, 32)
    assert torch.allclose(x, codes @ data.features.T, atol=1e-5)
    on = codes > 0
    assert torch.allclose(on.float().mean(dim=0), data.probabilities, atol=0.01)
    assert on.sum(dim=1).float().mean().item() == pytest.approx(4.0, rel=0.02)
    values = codes[on]
    assert values.min() >= 0 and values.max() <= 1 and values.mean().item() == pytest.approx(0.5, abs=0.01)


def test_probabilities_are_capped_at_one_and_keep_their_sum():
    data = SyntheticFeatures(10, 4, mean_active=8.0, decay=0.5, seed=0)
    p = data.probabilities
    assert p.max().item() == pytest.approx(1.0) and (p <= 1).all()
    assert p.sum().item() == pytest.approx(8.0, rel=1e-5)
    assert (p[1:] <= p[:-1] + 1e-7).all()


def test_synthetic_features_are_seeded():
    a, b = SyntheticFeatures(20, 8, seed=3), SyntheticFeatures(20, 8, seed=3)
    assert torch.equal(a.features, b.features)
    assert torch.equal(a.sample(50), b.sample(50))  # unseeded samples continue from the constructor's seed
    assert torch.equal(a.sample(50, seed=7), b.sample(50, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(a.features, SyntheticFeatures(20, 8, seed=4).features)


# --- the model: shapes, padding, formulas --------------------------------------------------------------------


def test_shapes_follow_the_contract_and_padding_stays_zero():
    sae = SAE(8, [12, 20, 16], l1_coeff=1e-3, seed=0)
    assert sae.n_instances == 3 and sae.d_latents == (12, 20, 16) and sae.d_latent_max == 20
    assert sae.W_enc.shape == (3, 8, 20) and sae.W_dec.shape == (3, 8, 20)
    assert sae.b_enc.shape == (3, 20) and sae.b_dec.shape == (3, 8)
    assert sae.l1_coeff.tolist() == pytest.approx([1e-3] * 3)
    x = torch.randn(50, 8)
    x_hat, z = sae(x)
    assert x_hat.shape == (3, 50, 8) and z.shape == (3, 50, 20)
    assert (z[0, :, 12:] == 0).all() and (z[2, :, 16:] == 0).all() and (z >= 0).all()
    assert (sae.W_dec[0, :, 12:] == 0).all() and (sae.W_enc[2, :, 16:] == 0).all()
    assert torch.allclose(sae.W_dec[1].norm(dim=0), torch.ones(20), atol=1e-5)
    assert sae.loss(x).shape == (3,)
    # one batch per instance works too
    assert sae(torch.randn(3, 5, 8))[1].shape == (3, 5, 20)


def test_uniform_d_latent_is_an_int_and_n_instances_comes_from_lists():
    assert SAE(8, 16, n_instances=4, seed=0).d_latent == 16
    sae = SAE(8, 16, l1_coeff=[1e-3, 1e-2], seed=0)
    assert sae.n_instances == 2 and sae.l1_coeff.tolist() == pytest.approx([1e-3, 1e-2])


def test_forward_and_loss_follow_the_formulas():
    sae = SAE(6, 10, n_instances=2, l1_coeff=[0.01, 0.1], seed=1)
    with torch.no_grad():
        sae.b_enc.copy_(0.1 * torch.randn(2, 10))
        sae.b_dec.copy_(torch.randn(2, 6))
    x = torch.randn(7, 6)
    x_hat, z = sae(x)
    for i in range(2):
        z_i = torch.relu(x @ sae.W_enc[i] + sae.b_enc[i])
        x_hat_i = z_i @ sae.W_dec[i].T + sae.b_dec[i]
        assert torch.allclose(z[i], z_i, atol=1e-6) and torch.allclose(x_hat[i], x_hat_i, atol=1e-6)
        expected = ((x - x_hat_i) ** 2).mean() + sae.l1_coeff[i] * z_i.abs().sum(dim=1).mean()
        assert sae.loss(x)[i].item() == pytest.approx(expected.item(), rel=1e-5)


def test_topk_keeps_exactly_k_latents():
    sae = SAE(8, [20, 30], architecture="topk", k=4, seed=0)
    z = sae.encode(torch.randn(100, 8))
    assert ((z > 0).sum(dim=2) <= 4).all()
    with torch.no_grad():
        sae.b_enc.fill_(100.0)  # every pre-activation positive: the ReLU keeps all k
    z = sae.encode(torch.randn(100, 8))
    assert ((z > 0).sum(dim=2) == 4).all()
    assert (z[0, :, 20:] == 0).all()  # the top k never picks a padding latent
    assert sae.l1_coeff.tolist() == [0.0, 0.0]


# --- training ------------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_keeps_unit_decoder_columns_and_zero_padding():
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    for kwargs in (dict(l1_coeff=[1e-3, 1e-2]), dict(architecture="topk", k=2)):
        sae = SAE(8, [24, 32], seed=0, **kwargs)
        history = train_sae(sae, data.sample, steps=300, batch_size=128, lr=1e-2, seed=0, progress=False)
        assert history.shape == (300, 2) and torch.isfinite(history).all()
        assert (history[-30:].mean(dim=0) < 0.5 * history[:30].mean(dim=0)).all()
        norms = sae.W_dec.detach().norm(dim=1)  # (instances, latents)
        assert torch.allclose(norms[sae.latent_mask], torch.ones(int(sae.latent_mask.sum())), atol=1e-5)
        assert (sae.W_dec[0, :, 24:] == 0).all() and (sae.W_enc[0, :, 24:] == 0).all()
        assert (sae.encode(data.sample(200))[0, :, 24:] == 0).all()


def test_training_is_seeded():
    data = SyntheticFeatures(16, 8, seed=0)
    runs = []
    for _ in range(2):
        sae = SAE(8, 32, n_instances=2, l1_coeff=[1e-3, 3e-3], seed=5)
        history = train_sae(sae, data.sample, steps=60, batch_size=64, lr=1e-2, seed=1, dead_window=10,
                            progress=False)  # fmt: skip
        runs.append((history, sae.W_dec.detach().clone()))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    other = SAE(8, 32, n_instances=2, l1_coeff=[1e-3, 3e-3], seed=5)
    history = train_sae(other, data.sample, steps=60, batch_size=64, lr=1e-2, seed=2, progress=False)
    assert not torch.equal(history, runs[0][0])


def test_an_instance_trains_the_same_alone_as_padded_in_a_batch():
    # Instances are independent: padding to a larger d_latent and sharing the batch change nothing.
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    batched = SAE(8, [12, 20], l1_coeff=[3e-3, 1e-2], seed=0)
    alone = SAE(8, 12, l1_coeff=3e-3, seed=1)
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(alone, name).copy_(getattr(batched, name)[:1, ..., :12] if name != "b_dec" else batched.b_dec[:1])
    kwargs = dict(steps=100, batch_size=64, lr=1e-2, seed=3, resample_dead=False, progress=False)
    history = train_sae(batched, data.sample, **kwargs)
    history_alone = train_sae(alone, data.sample, **kwargs)
    assert torch.allclose(history[:, 0], history_alone[:, 0], rtol=1e-4, atol=1e-6)
    assert torch.allclose(batched.W_dec[0, :, :12], alone.W_dec[0], atol=1e-4)


def test_training_on_a_fixed_tensor_of_activations():
    x = SyntheticFeatures(16, 8, seed=0).sample(500, seed=0)
    sae = SAE(8, 32, seed=0)
    history = train_sae(sae, x, steps=200, batch_size=64, lr=1e-2, seed=0, progress=False)
    assert history[-20:].mean() < history[:20].mean()


def test_dead_latents_are_resampled_only_when_asked():
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    for resample, expect_alive in ((True, True), (False, False)):
        sae = SAE(8, 24, seed=0)
        with torch.no_grad():
            sae.b_enc[0, :6] = -100.0  # latents 0-5 can never fire
        train_sae(sae, data.sample, steps=200, batch_size=128, lr=1e-2, seed=0, dead_window=20,
                  resample_dead=resample, progress=False)  # fmt: skip
        fired = (sae.encode(data.sample(2_000, seed=9))[0] > 0).any(dim=0)  # (latents,)
        assert bool(fired[:6].any()) == expect_alive
    # the resampled latents are unit-norm directions like every other
    assert torch.allclose(sae.W_dec[0].norm(dim=0), torch.ones(24), atol=1e-5)


@pytest.mark.parametrize("architecture", ["relu", "topk"])
def test_autograd_trains_the_same_sae_as_the_hand_gradients(architecture, monkeypatch):
    # the engine's autograd path runs the same hooks: the decoder's gradient projected, its columns renormalised,
    # dead latents resampled with their Adam moments reset
    resets = []

    def resample_and_check(sae, dead, r, gen, exp_avg, exp_avg_sq):
        resample(sae, dead, r, gen, exp_avg, exp_avg_sq)
        cols = dead.unsqueeze(1).expand_as(exp_avg[0])
        resets.append(all(not state[i][mask].any() for state in (exp_avg, exp_avg_sq)
                          for i, mask in ((0, cols), (1, dead), (2, cols))))  # fmt: skip

    resample = sae_module._resample
    monkeypatch.setattr(sae_module, "_resample", resample_and_check)
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    kwargs = dict(l1_coeff=[1e-3, 1e-2, 5e-2]) if architecture == "relu" else dict(architecture="topk", k=2)
    runs = []
    for gradients in ("hand", "autograd"):
        sae = SAE(8, [24, 32, 16], n_instances=3, seed=0, **kwargs)
        with torch.no_grad():
            sae.b_enc[:, :4] = -100.0  # latents 0-3 start dead, so resampling happens
        history = train_sae(sae, data.sample, steps=200, batch_size=64, lr=1e-2, seed=0, dead_window=20,
                            gradients=gradients, progress=False)  # fmt: skip
        norms = sae.W_dec.detach().norm(dim=1)
        assert torch.allclose(norms[sae.latent_mask], torch.ones(int(sae.latent_mask.sum())), atol=1e-5)
        assert (sae.W_dec[0, :, 24:] == 0).all() and (sae.W_enc[2, :, 16:] == 0).all()
        runs.append((history, [p.detach().clone() for p in sae.parameters()]))
    assert resets and all(resets)
    assert torch.allclose(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-6)
    for p, q in zip(runs[0][1], runs[1][1]):
        assert torch.allclose(p, q, atol=1e-4)


def test_training_on_synthetic_features_draws_the_batches_sample_draws():
    # train_sae draws SyntheticFeatures.sample's batches through a sampler with no per-step checks and reused
    # buffers: the same batches, so the same training as through any other callable that returns them
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0)
    histories = []
    for source in (data.sample, lambda n, generator: data.sample(n, generator=generator)):
        sae = SAE(8, 16, n_instances=2, l1_coeff=[1e-3, 1e-2], seed=0)
        histories.append(train_sae(sae, source, steps=60, batch_size=32, lr=1e-2, seed=0, progress=False))
    assert torch.equal(histories[0], histories[1])


def test_training_data_of_another_dtype_is_converted_to_the_saes():
    data = SyntheticFeatures(16, 8, mean_active=2.0, seed=0, dtype=torch.float64)
    for source in (data.sample, data.sample(500, seed=1)):
        sae = SAE(8, 16, seed=0)
        history = train_sae(sae, source, steps=20, batch_size=32, lr=1e-2, seed=0, progress=False)
        assert torch.isfinite(history).all() and sae.W_enc.dtype == torch.float32


# --- evaluation ----------------------------------------------------------------------------------------------


def test_evaluate_matches_direct_computation():
    data = SyntheticFeatures(16, 8, seed=0)
    sae = SAE(8, [16, 24], l1_coeff=[1e-3, 1e-2], seed=0)
    with torch.no_grad():
        sae.b_enc.fill_(-0.3)
    x = data.sample(1_000, seed=1)
    records = evaluate_sae(sae, x, data.features, batch_size=300)  # chunked
    x_hat, z = sae(x)
    for i, record in enumerate(records):
        fvu = ((x - x_hat[i]) ** 2).sum() / ((x - x.mean(dim=0)) ** 2).sum()
        assert record["instance"] == i and record["d_latent"] == sae.d_latents[i]
        assert record["fvu"] == pytest.approx(fvu.item(), rel=1e-4)
        assert record["explained_variance"] == pytest.approx(1 - fvu.item(), rel=1e-4)
        assert record["l0"] == pytest.approx((z[i] > 0).sum(dim=1).float().mean().item(), rel=1e-6)
        never = ~(z[i, :, : sae.d_latents[i]] > 0).any(dim=0)
        assert record["dead_fraction"] == pytest.approx(never.float().mean().item())
        assert record["shrinkage"] == pytest.approx((x_hat[i].norm(dim=1).sum() / x.norm(dim=1).sum()).item(), rel=1e-4)
        expected = metrics.mmcs(sae.W_dec[i, :, : sae.d_latents[i]].detach(), data.features)
        assert record["mmcs"] == pytest.approx(expected.item(), rel=1e-5)
        assert record["loss"] == pytest.approx(sae.loss(x)[i].item(), rel=1e-4)
        assert record["l1_coeff"] == pytest.approx([1e-3, 1e-2][i])
    assert evaluate_sae(sae, x)[0]["mmcs"] is None
    assert evaluate_sae(sae, x, data)[1]["mmcs"] == pytest.approx(records[1]["mmcs"])


def test_a_perfect_dictionary_explains_everything():
    # Decoder = the true features and an encoder that reads the codes back exactly (orthonormal features).
    data = SyntheticFeatures(8, 8, seed=0)
    Q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(0)))
    data.features = Q
    sae = SAE(8, 8, l1_coeff=0.0, seed=0)
    with torch.no_grad():
        sae.W_dec.copy_(Q.unsqueeze(0))
        sae.W_enc.copy_(Q.unsqueeze(0))
    record = evaluate_sae(sae, data.sample(2_000, seed=1), data)[0]
    assert record["explained_variance"] == pytest.approx(1.0, abs=1e-5)
    assert record["mmcs"] == pytest.approx(1.0, abs=1e-5) and record["shrinkage"] == pytest.approx(1.0, abs=1e-5)
    assert record["dead_fraction"] == 0.0


# --- the headline: recovery of known features ------------------------------------------------------------------


@pytest.fixture(scope="module")
def recovery():
    """SyntheticFeatures(128, 64) and SAEs with 256 latents at a good and at a far too large L1 coefficient."""
    data = SyntheticFeatures(128, 64, seed=0)
    sae = SAE(64, 256, l1_coeff=[3e-3, 0.1], seed=0)
    train_sae(sae, data.sample, seed=0, progress=False, **RECIPE)
    return data, evaluate_sae(sae, data.sample(8_192, seed=1), data)


def test_sae_recovers_the_true_features(recovery):
    _, (good, _) = recovery
    assert good["mmcs"] >= 0.95
    assert good["explained_variance"] > 0.8
    assert 3 < good["l0"] < 15  # about the 5 active true features


def test_a_random_dictionary_is_the_baseline(recovery):
    data, (good, _) = recovery
    random = SAE(64, 256, seed=1).W_dec[0].detach()  # random unit directions
    baseline = metrics.mmcs(random, data.features).item()
    assert baseline < 0.5 and good["mmcs"] - baseline > 0.45


def test_too_much_l1_kills_latents_and_reconstruction(recovery):
    _, (good, heavy) = recovery
    assert heavy["dead_fraction"] > 0.5 and heavy["dead_fraction"] > good["dead_fraction"]
    assert heavy["explained_variance"] < 0.5 < good["explained_variance"]
    assert heavy["shrinkage"] < good["shrinkage"]


def test_topk_recovers_the_true_features_too():
    data = SyntheticFeatures(128, 64, seed=0)
    sae = SAE(64, 256, architecture="topk", k=5, seed=0)
    train_sae(sae, data.sample, seed=0, progress=False, **{**RECIPE, "steps": 500})  # TopK converges faster
    record = evaluate_sae(sae, data.sample(4_096, seed=1), data)[0]
    assert record["l0"] <= 5 and record["mmcs"] >= 0.9


# --- argument checks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: SyntheticFeatures(0, 4), "n_features"),
        (lambda: SyntheticFeatures(8, 4, mean_active=9.0), "mean_active"),
        (lambda: SyntheticFeatures(8, 4, decay=1.5), "decay"),
        (lambda: SyntheticFeatures(8, 4, seed=0).sample(0), "n"),
        (lambda: SAE(0, 8), "d_input"),
        (lambda: SAE(4, [8, 0]), "d_latent"),
        (lambda: SAE(4, 8, l1_coeff=-1.0), "l1_coeff"),
        (lambda: SAE(4, [8, 16], l1_coeff=[1e-3, 1e-3, 1e-3]), "d_latent and l1_coeff"),
        (lambda: SAE(4, [8, 16], n_instances=3), "d_latent and l1_coeff"),
        (lambda: SAE(4, 8, architecture="gated"), "architecture"),
        (lambda: SAE(4, 8, architecture="topk"), "k must be given"),
        (lambda: SAE(4, 8, architecture="topk", k=9), "k must be at most"),
        (lambda: SAE(4, 8, k=2), "k is only used"),
        (lambda: SAE(4, 8, seed=0).encode(torch.randn(5, 3)), "x must be"),
        (lambda: SAE(4, 8, seed=0).decode(torch.randn(1, 5, 7)), "z must be"),
        (lambda: train_sae("sae", torch.randn(10, 4)), "sae must be"),
        (lambda: train_sae(SAE(4, 8), torch.randn(10, 3), progress=False), "data must"),
        (lambda: train_sae(SAE(4, 8), lambda n: torch.randn(n, 3), steps=2, progress=False), "data\\(n\\)"),
        (lambda: train_sae(SAE(4, 8), torch.randn(10, 4), steps=0), "steps"),
        (lambda: train_sae(SAE(4, 8), torch.randn(10, 4), lr=0.0), "lr"),
        (lambda: train_sae(SAE(4, 8), torch.randn(10, 4), schedule="step"), "schedule"),
        (lambda: train_sae(SAE(4, 8), torch.randn(10, 4), threads=0), "threads"),
        (lambda: evaluate_sae(SAE(4, 8), torch.randn(10, 3)), "x must"),
        (lambda: evaluate_sae(SAE(4, 8), torch.randn(10, 4), torch.randn(3, 5)), "true_features"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_the_cpu_start():
    cpu, gpu = SAE(8, 16, seed=0), SAE(8, 16, seed=0, device="cuda")
    assert torch.allclose(cpu.W_dec, gpu.W_dec.cpu())
    data = SyntheticFeatures(16, 8, seed=0, device="cuda")
    history = train_sae(gpu, data.sample, steps=50, batch_size=64, lr=1e-2, seed=0, progress=False)
    assert history.shape == (50, 1) and torch.isfinite(history).all() and gpu.W_dec.device.type == "cuda"
    assert math.isfinite(evaluate_sae(gpu, data.sample(100), data)[0]["mmcs"])


def test_the_doors_of_an_sae_refuse_nan_an_empty_loss_and_a_wrong_code_by_name():
    """encode, decode, forward and loss refuse NaN in a batch; loss refuses an empty batch (its mean would be NaN);
    forward is encode then decode."""
    sae = SAE(4, 6, n_instances=2, seed=0)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    x_hat, z = sae(x)
    assert torch.equal(z, sae.encode(x)) and torch.equal(x_hat, sae.decode(z))
    nan = x.clone()
    nan[1, 2] = math.nan
    for method in (sae.encode, sae.forward, sae.loss):
        with pytest.raises(ValueError, match="x must be finite"):
            method(nan)
    with pytest.raises(ValueError, match="z must be finite"):
        sae.decode(torch.full((2, 5, 6), math.nan))
    with pytest.raises(ValueError, match=r"z must be a tensor of shape \(n_instances, batch, d_latent_max\)"):
        sae.decode(z[0])
    with pytest.raises(ValueError, match="x must not be empty"):
        sae.loss(x[:0])
    assert sae.encode(x[:0]).shape == (2, 0, 6)  # an empty batch has empty codes
