"""The WordPiece tokenizer trained for models from scratch: its vocabulary and ids must not depend
on the process (the trainer numbers tokens in hash-map order, which changes from process to
process, and breaks ties between merges by those numbers)."""

import json
import subprocess
import sys

from drscaling.tokenizer import SPECIAL_TOKENS, train_wordpiece

SCRIPT = """
import json, sys
from drscaling.tokenizer import train_wordpiece
texts = [f"the {w} jumped over {w}s and zebras quietly" for w in ("fox", "dog", "cat", "yak", "quokka", "jaguar")] * 20
tok = train_wordpiece(texts, vocab_size=120)
print(json.dumps(tok.get_vocab(), sort_keys=True))
"""


def test_vocabulary_and_ids_are_the_same_in_every_process():
    runs = [subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
            for _ in range(4)]
    vocabs = [json.loads(r.splitlines()[-1]) for r in runs]
    # The ids are a function of the token set: special tokens first, then sorted.
    for v in vocabs:
        assert [v[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
        rest = [t for t, _ in sorted(v.items(), key=lambda kv: kv[1]) if t not in SPECIAL_TOKENS]
        assert rest == sorted(rest)
    # And the set itself: on this toy corpus the trainer's tie-breaking gave 6 different
    # vocabularies in 8 processes before the "##x" tokens were given to it up front.
    assert all(v == vocabs[0] for v in vocabs)


def test_only_the_real_special_tokens_are_special():
    tok = train_wordpiece(["quokkas and jaguars", "the quokka saw a jaguar"] * 10, vocab_size=80)
    assert sorted(tok.all_special_tokens) == sorted(SPECIAL_TOKENS)
    added = tok.backend_tokenizer.get_added_tokens_decoder().values()
    assert sorted(t.content for t in added) == sorted(SPECIAL_TOKENS)
    assert "a" in tok.get_vocab() and tok.tokenize("a quokka")[0] == "a"


def test_renumbered_tokenizer_still_tokenizes():
    tok = train_wordpiece(["quokkas and jaguars", "the quokka saw a jaguar"] * 10, vocab_size=80)
    enc = tok("the quokka")["input_ids"]
    assert enc[0] == tok.cls_token_id and enc[-1] == tok.sep_token_id
    assert tok.decode(enc, skip_special_tokens=True) == "the quokka"
    assert tok.convert_ids_to_tokens(tok("zzz")["input_ids"])[1:-1] != []  # unknown text still maps
