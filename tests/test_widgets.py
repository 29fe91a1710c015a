"""The explorers' callbacks are tested directly: errors inside a widget never fail a headless run."""

import pytest

from superpose_lib.embeddings import load_glove
from superpose_lib.widgets import analogy_answers, analogy_explorer


@pytest.fixture(scope="module")
def wv():
    return load_glove()


def test_analogy_answers_lists_the_nearest_words(wv):
    text = analogy_answers(wv, "man", "king", "woman", k=2)
    assert text.startswith("man : king :: woman : ?  →  queen (0.86), ")


def test_analogy_answers_forgives_case_and_spaces_and_explains_unknown_words(wv):
    assert analogy_answers(wv, " Man", "KING ", "woman") == analogy_answers(wv, "man", "king", "woman")
    assert "'kingg' is not in the vocabulary" in analogy_answers(wv, "man", "kingg", "woman")
    assert analogy_answers(wv, "man", "", "woman") == "type three words"


def test_analogy_explorer_has_three_boxes_that_redraw(wv):
    widget = analogy_explorer(wv, "france", "paris", "japan")
    boxes = [child for child in widget.children if hasattr(child, "continuous_update")]
    assert [box.description for box in boxes] == ["a", "b", "c"]
    assert [box.value for box in boxes] == ["france", "paris", "japan"]
    assert all(box.continuous_update is False for box in boxes)


def test_typing_a_new_word_recomputes_the_answers(wv, capsys):
    widget = analogy_explorer(wv, "man", "king", "woman")
    capsys.readouterr()
    widget.children[2].value = "girl"  # the c box
    assert "man : king :: girl : ?" in capsys.readouterr().out
