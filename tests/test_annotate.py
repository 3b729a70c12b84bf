import math

import numpy as np
import pandas as pd
import pytest

from drscaling.annotation import generator, methods
from drscaling.annotation import pairs as annotated

S1, S2, S3 = "The cat sat on the mat.", "It was a sunny day!", "Why did the dog bark?"
PASSAGE = f"{S1} {S2} {S3}"


# ---------------------------------------------------------------- ICT

def test_sentence_splitter():
    assert methods.split_sentences(PASSAGE) == [S1, S2, S3]
    assert methods.split_sentences("价格是3.5元。天气很好！你好吗？") == ["价格是3.5元。", "天气很好！", "你好吗？"]
    assert methods.split_sentences("Pi is 3.14 roughly") == ["Pi is 3.14 roughly"]


def test_ict_removes_or_keeps_the_sentence():
    seen = set()
    for seed in range(30):
        q, pos = methods.ict(PASSAGE, np.random.default_rng(seed), keep_sentence_prob=0)
        assert q in (S1, S2, S3)
        assert q not in pos
        others = [s for s in (S1, S2, S3) if s != q]
        assert pos == " ".join(others)
        seen.add(q)
        q, pos = methods.ict(PASSAGE, np.random.default_rng(seed), keep_sentence_prob=1)
        assert q in (S1, S2, S3) and q in pos and pos == PASSAGE
    assert seen == {S1, S2, S3}


def test_ict_single_sentence():
    q, pos = methods.ict("Only one sentence here.", 0, keep_sentence_prob=0)
    assert q == "Only one sentence here." and pos == "Only one sentence here."


# ---------------------------------------------------------------- crop

def _is_span(part, whole):
    n = len(part)
    return any(whole[i:i + n] == part for i in range(len(whole) - n + 1))


def test_crops_are_spans_within_ratio_bounds():
    words = [f"w{i}" for i in range(40)]
    text = " ".join(words)
    for seed in range(30):
        q, pos = methods.crop(text, np.random.default_rng(seed), min_ratio=0.1, max_ratio=0.5)
        for c in (q, pos):
            w = c.split()
            assert _is_span(w, words)
            assert 4 <= len(w) <= 20
    # at least one word even for a tiny passage
    for seed in range(5):
        q, pos = methods.crop("hello world", seed, min_ratio=0.1, max_ratio=0.2)
        assert q in ("hello", "world") and pos in ("hello", "world")


def test_crop_chinese_by_characters():
    text = "今天天气很好我们去公园散步吧然后回家吃饭"
    for seed in range(10):
        q, pos = methods.crop(text, seed, min_ratio=0.2, max_ratio=0.5)
        for c in (q, pos):
            assert c in text
            assert math.ceil(0.2 * len(text)) <= len(c) <= math.floor(0.5 * len(text))


# ---------------------------------------------------------------- keywords

def test_keywords_are_top_tfidf_terms():
    corpus = ["apple banana cherry", "banana cherry date", "cherry date elder", "cherry fig"]
    idf = methods.idf_table(corpus)
    # N=4: df(apple)=1, df(banana)=2, df(cherry)=4
    assert idf["apple"] == pytest.approx(math.log(5 / 2) + 1)
    assert idf["cherry"] == pytest.approx(1.0)
    q, pos = methods.keywords("Apple banana cherry", idf, k=1)
    assert q == "apple" and pos == "Apple banana cherry"
    q, _ = methods.keywords("Apple banana cherry", idf, k=2)
    assert q == "apple banana"
    # term frequency counts: cherry x4 (4*1.0=4) beats banana x1 (log(5/3)+1 ~ 1.51)
    q, _ = methods.keywords("banana cherry cherry cherry cherry", idf, k=1)
    assert q == "cherry"
    # every keyword comes from the passage; ties broken by first occurrence
    q, _ = methods.keywords("date banana", idf, k=5)
    assert q == "date banana"
    assert set(q.split()) <= set(methods.terms("date banana"))


def test_keywords_sublinear_tf_and_stop_words():
    corpus = ["apple banana cherry", "banana cherry date", "cherry date elder", "cherry fig"]
    idf = methods.idf_table(corpus)  # apple: log(5/2) + 1 = 1.916, cherry: 1.0
    # raw count: cherry 2 x 1.0 = 2.0 beats apple 1.916; sublinear: (1 + log 2) x 1.0 = 1.693 loses
    assert methods.keywords("apple cherry cherry", idf, k=1)[0] == "cherry"
    assert methods.keywords("apple cherry cherry", idf, k=1, sublinear_tf=True)[0] == "apple"
    # words unseen in the idf table count as the rarest: without a stop list, her and she win
    passage = "She said her line was hers, her words, her cherry"
    assert methods.keywords(passage, idf, k=2)[0] == "her she"
    kept = methods.keyword_terms(passage, idf, k=10, stop_words="en")
    assert not {"she", "her", "was"} & set(kept) and {"line", "cherry", "words"} <= set(kept)
    with pytest.raises(ValueError, match="stop_words"):
        methods.keyword_terms(passage, idf, stop_words="klingon")


def test_sampled_keywords_draw_terms_in_proportion_to_their_weight():
    corpus = ["apple banana cherry", "banana cherry date", "cherry date elder", "cherry fig"]
    idf = methods.idf_table(corpus)
    w_apple, w_cherry = idf["apple"], idf["cherry"]  # tf 1 each: the weights are the idfs
    rng = np.random.default_rng(0)
    draws = [methods.keywords("apple cherry", idf, k=1, rng=rng, sample=True)[0] for _ in range(4000)]
    share = draws.count("apple") / len(draws)
    expected = w_apple / (w_apple + w_cherry)  # 1.916 / 2.916 = 0.657
    assert abs(share - expected) < 3 * math.sqrt(expected * (1 - expected) / len(draws))
    # k distinct terms of the passage, highest weight first; seeded; all terms when k >= their number
    q = methods.keywords("apple banana cherry date", idf, k=3, rng=5, sample=True)[0].split()
    assert len(set(q)) == 3 and set(q) <= {"apple", "banana", "cherry", "date"}
    assert [idf[w] for w in q] == sorted((idf[w] for w in q), reverse=True)
    assert q == methods.keywords("apple banana cherry date", idf, k=3, rng=5, sample=True)[0].split()
    assert sorted(methods.keywords("apple cherry", idf, k=5, rng=1, sample=True)[0].split()) == ["apple", "cherry"]
    # not sampled: the top-k, whatever the rng
    assert methods.keywords("apple banana cherry", idf, k=1, rng=3)[0] == "apple"
    assert methods.method_label("keywords", {"sample": True}) == "keywords-sampled"
    assert methods.method_label("keywords", {"stop_words": "en", "sublinear_tf": True, "sample": True}) == \
        "keywords-stop-sublinear-sampled"
    with pytest.raises(ValueError, match="sample: expected true or false"):
        methods.check_method("keywords", {"sample": "yes"}, "grid.annotation_methods[1]")


# ---------------------------------------------------------------- noise

def _pairs(n=100):
    return pd.DataFrame({"qid": [f"q{i}" for i in range(n)], "pid": [f"p{i % 50}" for i in range(n)]})


def test_noise_replaces_exact_fraction():
    pairs = _pairs()
    ids = [f"p{i}" for i in range(50)]
    out = methods.noisy_pairs(pairs, ids, 0.3, np.random.default_rng(0))
    changed = out["pid"] != pairs["pid"]
    assert changed.sum() == 30 and out["noisy"].sum() == 30
    assert (changed == out["noisy"]).all()
    assert set(out["pid"]) <= set(ids)
    assert list(out["qid"]) == list(pairs["qid"])
    out0 = methods.noisy_pairs(pairs, ids, 0.0, 0)
    assert (out0["pid"] == pairs["pid"]).all() and not out0["noisy"].any()
    out1 = methods.noisy_pairs(pairs, ids, 1.0, 0)
    assert (out1["pid"] != pairs["pid"]).all()


# ---------------------------------------------------------------- determinism

def test_methods_deterministic_by_seed():
    text = " ".join(f"Sentence number {i} has words {i * 7} here." for i in range(12))
    for f in (lambda r: methods.ict(text, r, keep_sentence_prob=0.5), lambda r: methods.crop(text, r)):
        a = [f(np.random.default_rng(1)) for _ in range(3)]
        b = [f(np.random.default_rng(1)) for _ in range(3)]
        assert a == b
        runs = {tuple(f(np.random.default_rng(s)) for _ in range(1)) for s in range(10)}
        assert len(runs) > 1
    pairs, ids = _pairs(), [f"p{i}" for i in range(50)]
    a, b = methods.noisy_pairs(pairs, ids, 0.3, 5), methods.noisy_pairs(pairs, ids, 0.3, 5)
    assert a.equals(b)
    assert not a.equals(methods.noisy_pairs(pairs, ids, 0.3, 6))


# ---------------------------------------------------------------- annotate on a fake dataset

class FakeData:
    def __init__(self, n_passages=30):
        words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
        self.corpus = pd.DataFrame(
            {
                "pid": [f"d{i}" for i in range(n_passages)],
                "text": [
                    f"Passage {i} talks about {words[i % 12]} and {words[(i * 5) % 12]}. "
                    f"It also says {words[(i + 3) % 12]} {i}! Finally {words[(i * 7) % 12]} ends it."
                    for i in range(n_passages)
                ],
                "group": None,
            }
        )
        # training positives: d0..d19 (d20.. are test passages); d0..d3 have two questions
        train = [(f"q{i}", f"d{i}") for i in range(20)] + [(f"q{20 + i}", f"d{i}") for i in range(4)]
        test = [(f"t{i}", f"d{20 + i}") for i in range(10)]
        self.all_qrels = pd.DataFrame(
            [("train", q, p) for q, p in train] + [("test", q, p) for q, p in test], columns=["split", "qid", "pid"]
        )
        self.all_queries = pd.DataFrame(
            [(s, q, f"question {q}?") for s, q, _ in self.all_qrels.itertuples(index=False)],
            columns=["split", "qid", "text"],
        )

    def queries(self, split):
        return self.all_queries[self.all_queries["split"] == split].reset_index(drop=True)

    def qrels(self, split):
        return self.all_qrels[self.all_qrels["split"] == split].reset_index(drop=True)

    def subset(self, size):
        order = self.qrels("train").iloc[::-1].reset_index(drop=True)
        if size > len(order):
            raise ValueError(f"asked for {size:,} training pairs, but there are {len(order):,}")
        return order.iloc[:size][["qid", "pid"]].reset_index(drop=True)


TRAIN_PIDS = {f"d{i}" for i in range(20)}


@pytest.mark.parametrize("method,opts", [
    ("human", {}), ("noisy_human", {"rate": 0.5}), ("ict", {}), ("crop", {}), ("keywords", {"k": 3}),
    ("keywords", {"k": 3, "sample": True}),
])
def test_annotate_each_method(method, opts, tmp_path):
    data = FakeData()
    out = annotated.annotate(data, method, 10, seed=3, **opts)
    assert len(out) == 10
    assert list(out.columns[:4]) == methods.PAIR_COLUMNS
    assert set(out["pid"]) <= TRAIN_PIDS
    assert (out["method"] == method).all()
    assert out["query"].map(lambda s: isinstance(s, str) and len(s) > 0).all()
    again = annotated.annotate(data, method, 10, seed=3, **opts)
    pd.testing.assert_frame_equal(out, again)
    if method in ("human", "noisy_human"):
        assert list(out["qid"]) == list(data.subset(10)["qid"])
        assert list(out["query"]) == [f"question {q}?" for q in out["qid"]]
        if method == "noisy_human":
            assert out["noisy"].sum() == 5
            assert (out["pid"] != data.subset(10)["pid"]).sum() == 5
    else:
        assert list(out["qid"]) == [f"{method}-3-{i}" for i in range(10)]
        assert out["pid"].is_unique
        other = annotated.annotate(data, method, 10, seed=4, **opts)
        assert list(other["pid"]) != list(out["pid"])
        all20 = annotated.annotate(data, method, 20, seed=3, **opts)
        assert set(all20["pid"]) == TRAIN_PIDS
        # more pairs than passages: rounds over the passages, each in a new order
        rounds = annotated.annotate(data, method, 50, seed=3, **opts)
        assert rounds["qid"].is_unique and set(rounds["pid"]) == TRAIN_PIDS
        assert sorted(rounds["pid"].value_counts().unique()) == [2, 3]
        assert list(rounds["pid"][:20]) == list(all20["pid"])
        assert list(rounds["pid"][20:40]) != list(all20["pid"])
        by_pid = rounds.groupby("pid")["query"].nunique()
        if method == "ict" or opts.get("sample"):  # another sentence, other terms, in another round
            assert (by_pid > 1).any()
            assert list(rounds["query"][:20]) == list(all20["query"])  # nested: the first pairs alike
        elif method == "keywords":  # the top-k terms: a passage met again gets the same query
            assert (by_pid == 1).all()
    path = tmp_path / "sub" / f"{method}.parquet"
    annotated.write_pairs(out, path)
    pd.testing.assert_frame_equal(annotated.read_pairs(path), out)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_annotate_errors():
    data = FakeData()
    with pytest.raises(ValueError, match="unknown"):
        annotated.annotate(data, "magic", 5, 0)
    with pytest.raises(ValueError, match="rate"):
        annotated.annotate(data, "noisy_human", 5, 0)
    with pytest.raises(ValueError, match="24"):
        annotated.annotate(data, "human", 25, 0)


# ---------------------------------------------------------------- query generation plumbing

SENTENCES = [
    "what is the capital of france",
    "the cat sat on the mat",
    "paris is the capital of france",
    "dogs bark at night and cats sleep",
    "how many people live in paris",
]


def _tokenizer(special):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(SENTENCES + ["Passage : Query"], trainers.WordLevelTrainer(special_tokens=special))
    return tok


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    import torch
    from tokenizers import processors
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    root = tmp_path_factory.mktemp("generators")
    torch.manual_seed(0)

    raw = _tokenizer(["<pad>", "</s>", "<unk>"])
    raw.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    t5_tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    cfg = T5Config(
        vocab_size=len(t5_tok), d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(cfg).save_pretrained(root / "t5")
    t5_tok.save_pretrained(root / "t5")

    raw = _tokenizer(["<|endoftext|>", "<unk>"])
    gpt_tok = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>", unk_token="<unk>")
    cfg = GPT2Config(vocab_size=len(gpt_tok), n_layer=1, n_embd=16, n_head=2, n_positions=128,
                     bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(root / "gpt2")
    gpt_tok.save_pretrained(root / "gpt2")
    return root


@pytest.mark.parametrize("kind", ["t5", "gpt2"])
def test_generate_queries_plumbing(tiny_models, kind):
    passages = SENTENCES + ["an unseen word zebra appears"]
    a = generator.generate_queries(passages, tiny_models / kind, max_new_tokens=5, batch_size=4)
    b = generator.generate_queries(passages, tiny_models / kind, max_new_tokens=5, batch_size=4)
    assert len(a) == len(passages) and all(isinstance(q, str) for q in a)
    assert a == b


def test_annotate_generated(tiny_models):
    data = FakeData()
    out = annotated.annotate(data, "generated", 6, seed=1, model_path=tiny_models / "gpt2", max_new_tokens=4)
    assert len(out) == 6 and set(out["pid"]) <= TRAIN_PIDS
    assert (out["method"] == "generated").all()


def test_missing_model_raises(tmp_path):
    for path in (None, tmp_path / "nope"):
        with pytest.raises(generator.ModelNotAvailableError, match="doc2query-t5-base-msmarco"):
            generator.generate_queries(["a passage"], path)
    with pytest.raises(generator.ModelNotAvailableError, match="skipped"):
        annotated.annotate(FakeData(), "generated", 3, seed=0, model_path=None)


# ---------------------------------------------------------------- methods as settings; stored pairs

@pytest.mark.parametrize("method,opts,match", [
    ("magic", {}, "unknown annotation method 'magic'"),
    ("ict", {"rate": 0.1}, r"method 'ict' takes no option\(s\) \['rate'\] \(its options: keep_sentence_prob\)"),
    ("human", {"k": 3}, r"its options: none"),
    ("noisy_human", {}, r"needs the option\(s\) \['rate'\]"),
    ("noisy_human", {"rate": 1.5}, r"rate: expected a fraction in \[0, 1\], got 1.5"),
    ("generated", {"max_new_tokens": 8}, r"needs the option\(s\) \['model_path'\]"),
])
def test_check_method_names_what_is_wrong(method, opts, match):
    with pytest.raises(ValueError, match=match):
        methods.check_method(method, opts, where="p.yaml: grid.annotation_methods[2]")
    with pytest.raises(ValueError, match=r"p\.yaml: grid\.annotation_methods\[2\]"):
        methods.check_method(method, opts, where="p.yaml: grid.annotation_methods[2]")


def test_method_labels():
    assert methods.method_label("human", {}) == "human"
    assert methods.method_label("ict", {"keep_sentence_prob": 0.3}) == "ict"
    assert methods.method_label("noisy_human", {"rate": 0.3}) == "noisy_human-0.3"
    assert methods.method_label("noisy_human", {"rate": 1}) == "noisy_human-1"
    assert methods.method_label("generated", {"model_path": "castorini/doc2query-t5-base-msmarco"}) == \
        "generated-doc2query-t5-base-msmarco"
    assert methods.method_label("generated", {"model_path": "/models/my gen/"}) == "generated-my_gen"
    assert methods.method_label("keywords", {"k": 5}) == "keywords"
    assert methods.method_label("keywords", {"stop_words": "en", "sublinear_tf": True}) == "keywords-stop-sublinear"
    assert methods.method_label("keywords", {"sublinear_tf": True}) == "keywords-sublinear"


class StoredData(FakeData):
    def __init__(self, directory):
        super().__init__()
        self.dir = directory
        self.manifest = {"key": "abc"}


def test_stored_pairs_are_made_once(tmp_path, monkeypatch):
    data = StoredData(tmp_path / "processed")
    first = annotated.stored_pairs(data, "ict", 8, seed=2, options={"keep_sentence_prob": 0.0})
    path = annotated.pairs_path(data, "ict", 8, 2, {"keep_sentence_prob": 0.0})
    assert path.is_file() and path.parent == tmp_path / "processed" / "annotations"
    pd.testing.assert_frame_equal(first, annotated.annotate(data, "ict", 8, 2, keep_sentence_prob=0.0))

    def boom(*a, **k):
        raise AssertionError("annotate was called again")

    monkeypatch.setattr(annotated, "annotate", boom)
    pd.testing.assert_frame_equal(annotated.stored_pairs(data, "ict", 8, seed=2, options={"keep_sentence_prob": 0.0}), first)
    # another option, size, seed or prepared data is another file
    others = {annotated.pairs_path(data, "ict", 8, 2, {"keep_sentence_prob": 0.5}), annotated.pairs_path(data, "ict", 9, 2, {}),
              annotated.pairs_path(data, "ict", 8, 3, {"keep_sentence_prob": 0.0})}
    data.manifest = {"key": "other"}
    others.add(annotated.pairs_path(data, "ict", 8, 2, {"keep_sentence_prob": 0.0}))
    assert path not in others and len(others) == 4
    with pytest.raises(ValueError, match="takes no option"):
        annotated.stored_pairs(data, "crop", 8, seed=2, options={"k": 1})


def test_model_available(tmp_path, monkeypatch, tiny_models):
    assert methods.model_available("ict", {}) == (True, "")
    assert methods.model_available("generated", {"model_path": str(tiny_models / "gpt2")}) == (True, "")
    ok, why = methods.model_available("generated", {"model_path": str(tmp_path / "none")})
    assert not ok and "skipped" in why and str(tmp_path / "none") in why
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a hub id that is not cached: no network here
    ok, why = methods.model_available("generated", {"model_path": "castorini/doc2query-t5-base-msmarco"})
    assert not ok and "could not be fetched" in why
