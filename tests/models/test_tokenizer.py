"""The tiny backbone's word tokenizer: one id per word, stable across processes, the words captions use kept
apart, and truncation that keeps the row's end marker."""

import subprocess
import sys

from mu0.models import tokenizer


def test_one_token_per_word_whatever_the_case_or_punctuation():
    ids, mask = tokenizer.encode(["Move the gripper to the RIGHT.", "move the gripper to the right"], 48)
    words = ["task", ":", "move", "the", "gripper", "to", "the", "right"]
    expected = [tokenizer.BOS, *(tokenizer.word_id(w) for w in words)]
    assert ids[0, : len(expected)].tolist() == expected
    assert ids[1, : len(expected)].tolist() == expected
    assert ids[0, len(expected)].item() == tokenizer.word_id(".")
    assert ids[0, len(expected) + 1].item() == tokenizer.EOS
    assert mask[0].sum() == len(expected) + 2 and mask[1].sum() == len(expected) + 1
    assert ids[1, -1].item() == tokenizer.PAD and not mask[1, -1]


def test_ids_do_not_depend_on_the_process():
    """Python's str hash is salted per process; the tokenizer must not be."""
    code = "from mu0.models import tokenizer; print(tokenizer.word_id('drawer'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)}
    assert runs == {str(tokenizer.word_id("drawer"))}


def test_the_words_captions_turn_on_get_their_own_ids():
    """Directions, agents and colours are what a caption tells the model: none may share an id."""
    vocabulary = ["left", "right", "up", "down", "toward", "away", "closer", "farther", "gripper", "arm", "hand",
                  "object", "pauses", "red", "green", "blue", "yellow", "orange", "purple", "cyan", "black", "white",
                  "grey", "brown", "drawer", "door", "window", "button", "puck", "peg", "open", "close", "push", "pick"]
    ids = {tokenizer.word_id(w) for w in vocabulary}
    assert len(ids) == len(vocabulary)
    assert all(0 <= i < tokenizer.WORD_BUCKETS for i in ids)
    assert len({tokenizer.PAD, tokenizer.BOS, tokenizer.EOS, tokenizer.IMAGE}) == 4
    assert max(tokenizer.PAD, tokenizer.BOS, tokenizer.EOS, tokenizer.IMAGE) < tokenizer.VOCAB_SIZE


def test_truncation_keeps_the_end_marker():
    ids, mask = tokenizer.encode(["one two three four five six seven"], 6)
    assert ids.shape == (1, 6) and mask.all()
    assert ids[0, 0].item() == tokenizer.BOS and ids[0, -1].item() == tokenizer.EOS
    assert ids[0, 1:5].tolist() == [tokenizer.word_id(w) for w in ("task", ":", "one", "two")]
