"""The chapter 11 helpers: the curated polysemy set, reading atoms, decomposing words, the two-sense score."""

import json
from importlib import resources

import matplotlib
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from superpose_lib import atoms, metrics, plotting, widgets
from superpose_lib.embeddings import UnknownWordError, load_glove
from superpose_lib.sae import SAE, evaluate_sae
from superpose_lib.sparse import omp

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def wv():
    return load_glove()


@pytest.fixture(scope="module")
def small():
    return load_glove(2_000)


# --- the polysemy set ---------------------------------------------------------------------------------------


def test_polysemy_set_has_a_few_dozen_distinct_words_with_two_senses_of_four_cues(wv):
    entries = atoms.load_polysemy()
    assert 30 <= len(entries) <= 100
    assert len({entry.word for entry in entries}) == len(entries)
    for entry in entries:
        assert len(entry.senses) == 2 and entry.senses[0].name != entry.senses[1].name
        for sense in entry.senses:
            assert len(sense.cues) == 4 and len(set(sense.cues)) == 4
            assert entry.word not in sense.cues
            assert all(cue in wv for cue in sense.cues), (entry.word, sense.cues)
        assert entry.word in wv


def test_polysemy_file_states_its_provenance_and_ships_with_the_package():
    with resources.files("superpose_lib").joinpath("data", atoms.POLYSEMY_FILE).open(encoding="utf-8") as handle:
        about = json.load(handle)["about"]
    assert "written for" in about.lower() and "before any atoms were learned" in about


# --- reading atoms ------------------------------------------------------------------------------------------


def test_a_words_own_direction_lists_the_word_first(small):
    words = ["paris", "king", "river"]
    directions = torch.stack([small[word] for word in words], dim=1)  # (50, 3)
    listed = atoms.atom_words(small, directions, k=4)
    assert [row[0] for row in listed] == words
    assert all(len(row) == 4 for row in listed)


def test_atom_words_does_not_depend_on_the_length_of_a_direction(small):
    direction = small["music"].unsqueeze(1)
    assert atoms.atom_words(small, direction, k=5) == atoms.atom_words(small, 7.5 * direction, k=5)


def test_coherence_is_a_mean_cosine_and_topics_beat_random_directions(small):
    topics = torch.stack([small[w] for w in ("monday", "football", "music")], dim=1)
    random = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    coherence_topics = atoms.atom_coherence(small, topics, k=8)
    coherence_random = atoms.atom_coherence(small, random, k=8)
    assert coherence_topics.shape == (3,) and coherence_random.shape == (20,)
    assert ((coherence_random >= -1) & (coherence_random <= 1)).all()
    assert coherence_topics.min() > coherence_random.mean()


def test_coherence_matches_the_plain_pairwise_average(small):
    direction = small["science"]
    unit = torch.nn.functional.normalize(small.vectors, dim=1)
    near = [small.index(word) for word in atoms.atom_words(small, direction.unsqueeze(1), k=6)[0]]
    plain = [float(unit[i] @ unit[j]) for i in near for j in near if i != j]
    assert atoms.atom_coherence(small, direction.unsqueeze(1), k=6).item() == pytest.approx(
        sum(plain) / len(plain), abs=1e-5
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda wv: atoms.atom_words(wv, torch.zeros(50, 2)),
        lambda wv: atoms.atom_words(wv, torch.ones(3, 50)),
        lambda wv: atoms.atom_words(wv, torch.ones(50, 2), k=0),
        lambda wv: atoms.atom_coherence(wv, torch.ones(50, 2), k=1),
        lambda wv: atoms.atom_words("not word vectors", torch.ones(50, 2)),
        lambda wv: atoms.decompose(wv, torch.ones(50, 3), "king", n_nonzero=4),
        lambda wv: atoms.sense_directions(wv, "bank"),
        lambda wv: atoms.two_sense_score(torch.ones(50, 1), torch.ones(50, 2)),
        lambda wv: atoms.two_sense_score(torch.ones(50, 4), torch.ones(50, 3)),
    ],
)
def test_bad_arguments_get_a_value_error(small, call):
    with pytest.raises(ValueError):
        call(small)


# --- decomposing a word -------------------------------------------------------------------------------------


def test_decompose_is_the_omp_code_sorted_by_size(small):
    dictionary = torch.nn.functional.normalize(torch.randn(50, 40, generator=torch.Generator().manual_seed(1)), dim=0)
    parts = atoms.decompose(small, dictionary, "king", n_nonzero=4, k_words=3)
    code = omp(dictionary, torch.nn.functional.normalize(small["king"], dim=0), n_nonzero=4)
    assert sorted(part["atom"] for part in parts) == code.nonzero().flatten().tolist()
    sizes = [abs(part["coefficient"]) for part in parts]
    assert sizes == sorted(sizes, reverse=True)
    for part in parts:
        assert part["coefficient"] == pytest.approx(float(code[part["atom"]]))
        assert part["words"] == atoms.atom_words(small, dictionary[:, [part["atom"]]], k=3)[0]


def test_a_dictionary_holding_the_word_uses_that_atom_alone(small):
    dictionary = torch.stack([small[w] for w in ("money", "river", "king")], dim=1)
    (part,) = atoms.decompose(small, dictionary, "river", n_nonzero=1)
    assert part["atom"] == 1 and part["coefficient"] == pytest.approx(1.0, abs=1e-5)


def test_decompose_names_an_unknown_word(small):
    with pytest.raises(UnknownWordError, match="not in the vocabulary"):
        atoms.decompose(small, torch.ones(50, 3), "qwertyuiop", n_nonzero=1)


# --- the two-sense score ------------------------------------------------------------------------------------


def test_sense_directions_are_unit_means_of_the_cues(wv):
    bank = {entry.word: entry for entry in atoms.load_polysemy()}["bank"]
    senses = atoms.sense_directions(wv, bank)
    assert senses.shape == (50, 2)
    assert torch.allclose(senses.norm(dim=0), torch.ones(2), atol=1e-5)
    money = torch.nn.functional.normalize(wv["money"], dim=0)
    assert float(money @ senses[:, 0]) > float(money @ senses[:, 1])


def test_one_direction_between_two_senses_cannot_cover_both():
    senses = torch.eye(3)[:, :2]
    between = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).T, dim=0)
    assert atoms.two_sense_score(between, senses) == pytest.approx(0.0, abs=1e-6)
    assert atoms.two_sense_score(torch.eye(3), senses) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 7))
def test_two_sense_score_ignores_order_and_length_and_stays_in_range(seed, m):
    gen = torch.Generator().manual_seed(seed)
    directions, senses = torch.randn(6, m, generator=gen), torch.randn(6, 2, generator=gen)
    score = atoms.two_sense_score(directions, senses)
    assert -1 - 1e-6 <= score <= 1 + 1e-6
    permuted = directions[:, torch.randperm(m, generator=gen)] * (1 + torch.rand(m, generator=gen))
    assert atoms.two_sense_score(permuted, senses) == pytest.approx(score, abs=1e-5)
    assert atoms.two_sense_score(directions, senses[:, [1, 0]]) == pytest.approx(score, abs=1e-5)


# --- explained variance -------------------------------------------------------------------------------------


def test_explained_variance_is_one_for_a_perfect_fit_and_zero_for_the_mean():
    x = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    assert metrics.explained_variance(x, x).item() == pytest.approx(1.0)
    assert metrics.explained_variance(x, x.mean(dim=0).expand_as(x)).item() == pytest.approx(0.0, abs=1e-6)


def test_explained_variance_agrees_with_evaluate_sae():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    sae = SAE(8, 16, seed=0)
    with torch.no_grad():
        x_hat = sae(x)[0][0]
    record = evaluate_sae(sae, x)[0]
    assert metrics.explained_variance(x, x_hat).item() == pytest.approx(record["explained_variance"], abs=1e-5)


@pytest.mark.parametrize(
    "x, x_hat", [(torch.ones(4, 2), torch.ones(4, 2)), (torch.randn(4, 2), torch.randn(4, 3)), (torch.randn(1, 2),) * 2]
)
def test_explained_variance_rejects_shapes_and_constant_data(x, x_hat):
    with pytest.raises(ValueError):
        metrics.explained_variance(x, x_hat)


# --- plots and the explorer ---------------------------------------------------------------------------------


def test_word_atoms_bars_draws_one_bar_per_atom(small):
    import matplotlib.pyplot as plt

    dictionary = torch.stack([small[w] for w in ("money", "river", "king", "music")], dim=1)
    parts = atoms.decompose(small, dictionary, "bank", n_nonzero=3, k_words=2)
    ax = plotting.word_atoms_bars("bank", parts)
    assert len(ax.patches) == 3 and "bank" in ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError):
        plotting.word_atoms_bars("bank", [])


def test_tradeoff_scatter_names_every_method_in_its_legend():
    import matplotlib.pyplot as plt

    records = [
        {"method": "a", "explained_variance": 0.5, "coherence": 0.4},
        {"method": "b", "explained_variance": 0.7, "coherence": 0.6},
    ]
    ax = plotting.tradeoff_scatter(records)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a", "b"]
    plt.close("all")


def test_word_atoms_explorer_reports_unknown_words(small, capsys):
    import matplotlib.pyplot as plt

    dictionary = torch.stack([small[w] for w in ("money", "river", "king")], dim=1)
    explorer = widgets.word_atoms_explorer(small, dictionary, word="qwertyuiop", n_nonzero=2)
    explorer.update()
    assert "not in the vocabulary" in capsys.readouterr().out
    plt.close("all")


def test_word_atoms_explorer_slider_stops_at_the_atoms_a_code_can_use(small, capsys):
    import matplotlib.pyplot as plt

    dictionary = torch.stack([small[w] for w in ("money", "river", "king")], dim=1)  # 3 atoms: at most 3 per code
    explorer = widgets.word_atoms_explorer(small, dictionary, word="bank", n_nonzero=5)
    slider = explorer.children[1]
    assert slider.max == 3 and slider.value == 3
    explorer.update()
    assert "Traceback" not in capsys.readouterr().out
    plt.close("all")


def test_word_atoms_explorer_reports_a_bad_dictionary_instead_of_raising(small, capsys):
    import matplotlib.pyplot as plt

    explorer = widgets.word_atoms_explorer(small, torch.zeros(50, 4), word="bank", n_nonzero=2)  # no direction
    explorer.update()
    assert "all-zero column" in capsys.readouterr().out
    plt.close("all")


def test_sense_directions_names_the_missing_cues_of_a_smaller_vocabulary(small):
    bank = {entry.word: entry for entry in atoms.load_polysemy()}["bank"]
    with pytest.raises(UnknownWordError, match=r"'lender'.*'bank'"):
        atoms.sense_directions(small, bank)
