"""Chinese SQuAD-schema sets (CMRC 2018, DRCD; issue 27): several files read into one pool, test
and validation held out of it as whole articles, traditional -> simplified conversion, and
character-level tokenisation and BM25. The tests write their own tiny files."""

import pytest
import yaml

from conftest import squad_doc, write_json
from drscaling.config import DataConfig, load_profile
from drscaling.datasets import DataFormatError, prepare_dataset
from drscaling.datasets.processed import preparation_key
from drscaling.datasets.squad import converter, load_squad, passage_id

NUMERALS = "一二三"
SIMPLIFIED = ["这里的图书馆藏书很多", "当地的铁路与机场很繁忙", "历史悠久，经济发达"]
TRADITIONAL = ["這裡的圖書館藏書很多", "當地的鐵路與機場很繁忙", "歷史悠久，經濟發達"]


def articles(prefix, titles, sentences):
    """Articles of three paragraphs, two questions each; paragraph ``p`` of ``title`` names
    both, and so do its questions."""
    out = []
    for a, title in enumerate(titles):
        paragraphs = []
        for p, n in enumerate(NUMERALS):
            text = f"{title}第{n}段：{sentences[p]}。"
            qas = [(f"{prefix}-{a}-{p}-{q}", f"{title}第{n}段说了什么{'？' if q else '呢'}") for q in range(2)]
            paragraphs.append((text, qas))
        out.append((title, paragraphs))
    return out


# "北京" is a title of both files: one article (as DRCD's dev and test files share articles), one group
SIMPLE_TITLES = ["北京", "上海", "广州", "深圳", "南京", "杭州"]
TRAD_TITLES = ["北京", "臺北", "高雄", "臺中", "臺南", "新竹"]


def write_sources(tmp_path, extra_simple=(), empty_question=False):
    """zh_a.json.gz (simplified) in folder a/, zh_b.json.gz (traditional) in folder b/."""
    simple = articles("a", SIMPLE_TITLES, SIMPLIFIED) + list(extra_simple)
    trad = articles("b", TRAD_TITLES, TRADITIONAL)
    if empty_question:
        trad[1][1][0][1][0] = ("b-1-0-0", "  ")
    write_json(tmp_path / "a" / "zh_a.json.gz", squad_doc(simple), gz=True)
    write_json(tmp_path / "b" / "zh_b.json.gz", squad_doc(trad), gz=True)


def make_profile(tmp_path, name="zh", **data):
    settings = {
        "search_dirs": [str(tmp_path / "a"), str(tmp_path / "b")], "download_url": None,
        "files": {"pool": ["zh_a.json.gz", "zh_b.json.gz"]}, "test_groups": 2, "validation_groups": 2,
        "subset_sizes": [10, 20], "cll_negatives": 8, "cll_repeats": 2, "vocab_size": 500, **data,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"dataset": name, "data": settings}, allow_unicode=True))
    return load_profile(path)


@pytest.fixture
def prepared(tmp_path):
    write_sources(tmp_path)
    return prepare_dataset(make_profile(tmp_path))


def split_groups(data):
    group = data.corpus.set_index("pid")["group"]
    return {s: set(group[data.qrels(s)["pid"]]) for s in ("train", "validation", "test")}


def test_pool_of_two_files_from_two_folders(tmp_path, prepared):
    m = prepared.manifest
    assert m["sources"]["pool[0]"]["path"] == str(tmp_path / "a" / "zh_a.json.gz")
    assert m["sources"]["pool[1]"]["path"] == str(tmp_path / "b" / "zh_b.json.gz")
    c = m["counts"]
    assert c["corpus"] == 2 * 6 * 3  # every paragraph of both files
    assert c["train_queries"] + c["validation_queries"] + c["test_queries"] == 2 * 6 * 3 * 2
    # whole articles: 3 paragraphs and 6 questions each
    assert (c["test_groups"], c["test_passages"], c["test_queries"]) == (2, 6, 12)
    assert (c["validation_groups"], c["validation_passages"], c["validation_queries"]) == (2, 6, 12)
    assert (c["train_groups"], c["train_passages"], c["train_queries"]) == (7, 24, 48)  # 北京: one group of 6
    assert len(m["test_groups"]) == 2 and m["seeds"]["test_split"] != m["seeds"]["validation_split"]


def test_one_title_in_two_files_is_one_group(prepared):
    group = prepared.corpus.set_index("pid")["group"]
    assert len(set(group)) == 11  # 6 + 6 titles, 北京 in both
    # the six 北京 paragraphs (three a file) are one group, so they are held out together
    beijing = [pid for pid, text in zip(prepared.corpus["pid"], prepared.corpus["text"]) if text.startswith("北京")]
    assert len(beijing) == 6 and set(group[beijing]) == {"title:北京"}
    splits = {s: set(prepared.qrels(s)["pid"]) for s in ("train", "validation", "test")}
    assert sum(bool(set(beijing) & pids) for pids in splits.values()) == 1


def test_test_and_validation_are_whole_articles(prepared):
    groups = split_groups(prepared)
    assert not groups["train"] & groups["validation"]
    assert not groups["train"] & groups["test"]
    assert not groups["validation"] & groups["test"]
    passages = {s: set(prepared.qrels(s)["pid"]) for s in ("train", "validation", "test")}
    assert not passages["train"] & passages["test"] and not passages["train"] & passages["validation"]
    # every paragraph of a held-out article is held out with it
    group = prepared.corpus.set_index("pid")["group"]
    for s in ("test", "validation"):
        assert set(group[group.isin(groups[s])].index) == passages[s]
    assert groups["test"] == set(prepared.manifest["test_groups"])


def test_held_out_articles_are_seeded(tmp_path):
    write_sources(tmp_path)
    draws = []
    for name, seed in (("s0", 0), ("s0b", 0), *((f"s{k}", k) for k in range(1, 6))):
        data = prepare_dataset(make_profile(tmp_path, name=name, seed=seed))
        draws.append((tuple(data.manifest["test_groups"]), tuple(data.manifest["validation_groups"])))
    assert draws[0] == draws[1]  # same seed, same articles
    assert any(d[0] != draws[0][0] for d in draws[2:])  # another seed, other test articles


def test_t2s_conversion():
    t2s = converter("t2s")
    assert t2s("臺灣的資料庫") == "台湾的资料库"  # hand-checked: 臺->台, 灣->湾, 資->资, 庫->库
    assert t2s("這裡的圖書館藏書很多") == "这里的图书馆藏书很多"
    assert t2s("北京的图书馆") == "北京的图书馆"  # simplified text stays
    assert converter(None) is None


def test_converted_pool_is_simplified_and_ids_follow_the_text(tmp_path):
    # one simplified paragraph equal to a traditional one after conversion
    same = ("台北", [("台北第一段：这里的图书馆藏书很多。", [("a-x-0", "台北图书馆")])])
    write_sources(tmp_path, extra_simple=[same])
    raw = load_squad(tmp_path / "b" / "zh_b.json.gz")
    assert "臺北第一段：這裡的圖書館藏書很多。" in raw.corpus.values()
    data = prepare_dataset(make_profile(tmp_path, convert="t2s"))
    texts = set(data.corpus["text"])
    assert "台北第一段：这里的图书馆藏书很多。" in texts and not any("這" in t or "臺" in t for t in texts)
    assert all(pid == passage_id(text) for pid, text in zip(data.corpus["pid"], data.corpus["text"]))
    # the two files' paragraph is one passage, asked about by both files' questions
    pid = passage_id("台北第一段：这里的图书馆藏书很多。")
    assert {"a-x-0", "b-1-0-0", "b-1-0-1"} <= set(data.all_qrels.loc[data.all_qrels["pid"] == pid, "qid"])
    # 37 paragraphs; 北京's three of file b coincide with file a's after conversion, as does 台北's first
    assert len(data.corpus) == 2 * 6 * 3 + 1 - 3 - 1
    assert "台北第一段说了什么？" in set(data.all_queries["text"])


def test_new_settings_at_their_defaults_leave_the_key_unchanged():
    checksums = {"train": "a" * 64, "test": "b" * 64}
    # the key of the default settings before test_groups / convert / skip_empty_questions existed
    assert preparation_key(DataConfig(), checksums) == "0f44285ee310db6a2e2ca7e29d64b84bddba0c3eadc4056ebec47b99f02d8347"
    assert preparation_key(DataConfig(convert="t2s"), checksums) != preparation_key(DataConfig(), checksums)


@pytest.mark.parametrize("data, message", [
    ({"files": {"train": "a.json", "test": "b.json"}, "test_groups": 2},
     "data.test_groups: holds test articles out of files.pool only"),
    ({"files": {"pool": ["zh_a.json.gz"], "test": "zh_b.json.gz"}},
     "data.files: with 'pool' no other key (the test split is held out of the pool by data.test_groups); "
     "got also ['test']"),
    ({"test_groups": None}, "data.test_groups: expected a positive integer (whole articles of files.pool held out"),
    ({"test_groups": 0}, "data.test_groups: expected a positive integer"),
    ({"files": {"pool": "zh_a.json.gz"}}, "data.files.pool: expected a non-empty list of file names, got 'zh_a.json.gz'"),
    ({"files": {"pool": ["zh_a.json.gz", "zh_a.json.gz"]}}, "data.files.pool: a file named twice"),
    ({"limit_train_articles": 3}, "data.limit_train_articles: applies to files.train / files.test, not to files.pool"),
    ({"convert": "s2t"}, "data.convert: expected null or one of ['t2s'] (source squad only), got 's2t'"),
    ({"source": "msmarco", "files": {}, "test_groups": None, "convert": "t2s"}, "data.convert: expected null or one of"),
], ids=["test_groups with a test file", "pool and test", "pool without test_groups", "zero test_groups",
        "pool not a list", "pool twice", "limit with pool", "unknown convert", "convert not squad"])
def test_bad_options_are_config_errors(tmp_path, data, message):
    from drscaling.config import ConfigError

    with pytest.raises(ConfigError) as e:
        make_profile(tmp_path, **data)
    assert message in str(e.value) and str(tmp_path / "zh.yaml") in str(e.value)


def test_data_errors_name_the_file_and_setting(tmp_path):
    from drscaling.config import ConfigError

    write_sources(tmp_path)
    with pytest.raises(ConfigError, match=r"data\.test_groups = 12: must be between 1 and 10 \(the pool split has "
                                          r"11 groups\)"):
        prepare_dataset(make_profile(tmp_path, test_groups=12))
    with pytest.raises(FileNotFoundError, match=r"zh_c\.json\.gz \(data\.files\.pool\[1\]\) is in none of"):
        prepare_dataset(make_profile(tmp_path, files={"pool": ["zh_a.json.gz", "zh_c.json.gz"]}))


def test_empty_question_fails_unless_skipped(tmp_path, caplog):
    write_sources(tmp_path, empty_question=True)
    with pytest.raises(DataFormatError, match=r"zh_b\.json\.gz: record data\[1\] .*field 'question': a non-empty"):
        prepare_dataset(make_profile(tmp_path))
    data = prepare_dataset(make_profile(tmp_path, skip_empty_questions=True))
    assert "b-1-0-0" not in set(data.all_queries["qid"]) and len(data.all_queries) == 2 * 6 * 3 * 2 - 1
    assert "1 empty question(s) left out" in caplog.text


def test_tokenizer_and_bm25_split_chinese_into_characters(prepared):
    from drscaling.ranking import bm25_metrics, bm25_settings
    from drscaling.tokenizer import train_wordpiece

    tok = train_wordpiece(SIMPLIFIED * 2 + ["北京是中国的首都"] * 2, vocab_size=200)
    assert tok.tokenize("北京的图书馆，历史悠久") == ["北", "京", "的", "图", "书", "馆", "，", "历", "史", "悠", "久"]
    assert prepared.tokenizer().tokenize("上海第二段") == ["上", "海", "第", "二", "段"]
    # BM25 over characters finds each question's paragraph; over words it would not, and refuses
    metrics = bm25_metrics(prepared, "test", **bm25_settings("zh"))
    assert metrics["mrr_at_10"] > 0.5 and metrics["n_queries"] == 12
    with pytest.raises(ValueError, match="CJK characters.*Use bm25_language: zh"):
        bm25_metrics(prepared, "test", **bm25_settings("en"))


def test_lengths_are_counted_in_characters(prepared):
    """Chinese has no spaces between words: notebook 01's lengths count characters, not
    whitespace words (each text would be one 'word')."""
    from drscaling.datasets import statistics as stats

    assert stats.length_unit(prepared) == "chars" and "characters" in stats.LENGTH_UNITS["chars"]
    lengths = stats.length_frame(prepared, prepared.tokenizer())
    assert list(lengths.columns) == ["kind", "split", "chars", "tokens"]
    queries = lengths[lengths["kind"] == "query"]
    assert (queries["chars"] == 10).all()  # "北京第一段说了什么呢": 10 characters
    assert (lengths["tokens"] == lengths["chars"]).all()  # one token a character, punctuation included
    summary = stats.length_summary(lengths)
    assert summary.columns.get_level_values(0).unique().tolist() == ["chars", "tokens"]
    assert (summary.loc["query", ("chars", "mean")] == 10).all()
