"""Bad input, end to end (issue 12): one test per kind of bad input, through the entry points
that `make reproduce` calls (load_profile, prepare_dataset, plan_grid, notebook_parameters /
run_notebook), on a smoke-sized profile whose data the tests write themselves.

Each kind must give one error (a ConfigError or a DataFormatError, both ValueErrors) whose
message names the file, the record or key, and what was expected, and must leave every earlier
output untouched: a failed re-preparation keeps the earlier prepared folder byte for byte.
"""

import gzip
import json
import os
import re
import shutil

import pytest
import yaml

from conftest import squad_doc, synthetic_articles, write_json
from drscaling import paths
from drscaling.config import ConfigError, load_profile
from drscaling.datasets import DataFormatError, prepare_dataset
from drscaling.grid import plan_grid
from drscaling.notebook_runner import (
    check_parameter_type, check_profile, declared_defaults, notebook_parameters, notebook_path, run_notebook,
)

# 6 training articles x 5 paragraphs x 3 questions (2 articles held out: 60 training pairs),
# 2 test articles x 4 paragraphs x 2 questions
TRAIN, TEST = (6, 5, 3), (2, 4, 2)
SETTINGS = {
    "download_url": None, "files": {"train": "train.json", "test": "dev.json"},
    "validation_groups": 2, "subset_sizes": [10, 20, 40], "cll_negatives": 8, "cll_repeats": 3, "vocab_size": 120,
}


def good_docs():
    return squad_doc(synthetic_articles(*TRAIN, "tr")), squad_doc(synthetic_articles(*TEST, "dv"))


def write_sources(folder, train=None, test=None, gz=False):
    """SQuAD-schema train.json / dev.json (``.gz`` with ``gz``) in ``folder``."""
    good_train, good_test = good_docs()
    suffix = ".gz" if gz else ""
    write_json(folder / f"train.json{suffix}", good_train if train is None else train, gz=gz)
    write_json(folder / f"dev.json{suffix}", good_test if test is None else test, gz=gz)
    return folder


def write_profile(tmp_path, src, name="toy", **data):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {**SETTINGS, "search_dirs": [str(src)], **data}}))
    return path


def snapshot(folder):
    """Every file under ``folder``: its bytes and its modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def prepared_once(tmp_path_factory):
    """One good preparation (made once for the module; each test gets a copy)."""
    root = tmp_path_factory.mktemp("good")
    src = write_sources(root / "src")
    old = os.environ.get("DRSCALING_DATA")
    os.environ["DRSCALING_DATA"] = str(root / "data")
    try:
        prepare_dataset(load_profile(write_profile(root, src)))
    finally:
        if old is None:
            del os.environ["DRSCALING_DATA"]
        else:
            os.environ["DRSCALING_DATA"] = old
    return root / "data" / "processed" / "toy"


@pytest.fixture
def prepared(prepared_once):
    """This test's earlier preparation (a copy, modification times kept) and its snapshot."""
    target = paths.processed_dir("toy")
    shutil.copytree(prepared_once, target, copy_function=shutil.copy2)
    return target, snapshot(target)


def assert_untouched(prepared):
    folder, before = prepared
    assert snapshot(folder) == before, "the earlier preparation was modified"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["toy"], "a temporary folder was left behind"


def prepare_bad(tmp_path, prepared, src, match_all, error=DataFormatError, **data):
    """Prepare again from ``src`` with changed settings: one error, naming every ``match_all``
    string; the earlier preparation untouched. Returns the message."""
    profile = load_profile(write_profile(tmp_path, src, cll_negatives=5, **data))
    with pytest.raises(error) as err:
        prepare_dataset(profile)
    msg = str(err.value)
    for piece in match_all:
        assert piece in msg, f"{piece!r} not in: {msg}"
    assert_untouched(prepared)
    return msg


# ---------------------------------------------------------------- 1. truncated and empty files

@pytest.mark.parametrize("gz, damage, expected", [
    (False, "truncated", "valid JSON; parsing failed at line 1"),
    (True, "truncated", "a complete gzip file; it is truncated or corrupt"),
    (False, "empty", "a JSON document; the file is empty (0 bytes)"),
    (True, "empty", "a JSON document; the file is empty (0 bytes)"),  # not even a gzip header
    (False, "whitespace", "a JSON document; the file is empty (5 bytes)"),
    (True, "whitespace", "a JSON document; the file is gzipped but holds nothing"),
    (True, "nothing inside", "a JSON document; the file is gzipped but holds nothing"),
])
def test_truncated_or_empty_file(tmp_path, prepared, gz, damage, expected):
    src = write_sources(tmp_path / "bad", gz=gz)
    bad = src / ("train.json.gz" if gz else "train.json")
    good = json.dumps(good_docs()[0]).encode()
    content = {
        "truncated": gzip.compress(good)[:-20] if gz else good[: len(good) // 2],
        "empty": b"",
        "whitespace": gzip.compress(b"  \n") if gz else b"  \n\t\n",
        "nothing inside": gzip.compress(b""),
    }[damage]
    bad.write_bytes(content)
    msg = prepare_bad(tmp_path, prepared, src, [str(bad), expected])
    assert msg.startswith(f"{bad}: "), msg


# ---------------------------------------------------------------- 2. a record missing a field

@pytest.mark.parametrize("what, record, field", [
    ("paragraph without context", "data[2] (title 'tr title 2') paragraphs[1]", "'context'"),
    ("paragraph without qas", "data[2] (title 'tr title 2') paragraphs[1]", "'qas'"),
    ("question without id", "data[2] (title 'tr title 2') paragraphs[1] qas[0]", "'id'"),
    ("question without question", "data[2] (title 'tr title 2') paragraphs[1] qas[0] (id 'tr-2-1-0')", "'question'"),
    ("article without paragraphs", "data[2]", "'paragraphs'"),
])
def test_record_missing_a_field(tmp_path, prepared, what, record, field):
    doc = good_docs()[0]
    article = doc["data"][2]
    paragraph, qa = article["paragraphs"][1], article["paragraphs"][1]["qas"][0]
    target, key = {
        "paragraph without context": (paragraph, "context"), "paragraph without qas": (paragraph, "qas"),
        "question without id": (qa, "id"), "question without question": (qa, "question"),
        "article without paragraphs": (article, "paragraphs"),
    }[what]
    del target[key]
    src = write_sources(tmp_path / "bad", train=doc)
    prepare_bad(tmp_path, prepared, src, [f"{src / 'train.json'}: record {record}", f"field {field}: is missing"])


# ---------------------------------------------------------------- 3. an empty query or passage

@pytest.mark.parametrize("text", ["", "   ", " \t\n "], ids=["empty", "spaces", "whitespace"])
@pytest.mark.parametrize("which", ["query", "passage"])
def test_empty_query_or_passage(tmp_path, prepared, which, text):
    doc = good_docs()[1]  # in the test file this time
    paragraph = doc["data"][1]["paragraphs"][3]
    if which == "query":
        paragraph["qas"][1]["question"] = text
        record, field = "data[1] (title 'dv title 1') paragraphs[3] qas[1] (id 'dv-1-3-1')", "'question'"
    else:
        paragraph["context"] = text
        record, field = "data[1] (title 'dv title 1') paragraphs[3]", "'context'"
    src = write_sources(tmp_path / "bad", test=doc)
    prepare_bad(tmp_path, prepared, src, [f"{src / 'dev.json'}: record {record}", f"field {field}",
                                         "a non-empty value, found an empty one"])


# ---------------------------------------------------------------- 4. duplicate ids

def test_duplicate_query_id_with_another_text_in_one_file(tmp_path, prepared):
    doc = good_docs()[0]
    doc["data"][4]["paragraphs"][2]["qas"][1]["id"] = "tr-0-0-0"  # another question's id
    src = write_sources(tmp_path / "bad", train=doc)
    prepare_bad(tmp_path, prepared, src, [
        f"{src / 'train.json'}: record data[4] (title 'tr title 4') paragraphs[2] qas[1] (id 'tr-0-0-0')",
        "field 'id': a unique query id; 'tr-0-0-0' was already used at "
        "data[0] (title 'tr title 0') paragraphs[0] qas[0]",
    ])


def test_duplicate_query_id_across_train_and_test_files(tmp_path, prepared):
    test = good_docs()[1]
    test["data"][0]["paragraphs"][0]["qas"][0]["id"] = "tr-3-1-2"  # a training question's id
    src = write_sources(tmp_path / "bad", test=test)
    prepare_bad(tmp_path, prepared, src, [
        f"{src / 'dev.json'}: record query id 'tr-3-1-2', field 'id'",
        f"it occurs in both train ({src / 'train.json'}) and test ({src / 'dev.json'})",
    ])


def test_same_paragraph_twice_is_one_passage_not_an_error(tmp_path):
    """SQuAD has no passage ids: a passage's id is derived from its text, so two paragraphs
    with one id and different texts cannot occur; the same text twice is one passage."""
    train, test = good_docs()
    train["data"][1]["paragraphs"][1]["context"] = train["data"][1]["paragraphs"][0]["context"]
    src = write_sources(tmp_path / "src", train=train, test=test)
    data = prepare_dataset(load_profile(write_profile(tmp_path, src)))
    assert data.manifest["counts"]["corpus"] == 6 * 5 + 2 * 4 - 1


def _tsv(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def msmarco_profile(tmp_path, collection, train_queries):
    """A tiny MS MARCO-format source: every passage is its own group (validation: 2 of them)."""
    src = tmp_path / "msmarco"
    _tsv(src / "collection.tsv", collection)
    _tsv(src / "queries.train.tsv", train_queries)
    _tsv(src / "qrels.train.tsv", [f"{i}\t0\t{i}\t1" for i in range(6)])
    _tsv(src / "queries.dev.small.tsv", ["100\ta test query"])
    _tsv(src / "qrels.dev.small.tsv", ["100\t0\t6\t1"])
    path = tmp_path / "marco.yaml"
    path.write_text(yaml.safe_dump({"dataset": "marco", "data": {
        "source": "msmarco", "search_dirs": [str(src)], "download_url": None, "validation_groups": 2,
        "subset_sizes": [2, 4], "cll_negatives": 2, "cll_repeats": 1, "vocab_size": 60}}))
    return load_profile(path), src


PASSAGES = [f"{i}\tpassage number {i} about topic {i}" for i in range(8)]
QUERIES = [f"{i}\twhat about topic {i}" for i in range(6)]


def test_tsv_source_prepares(tmp_path):
    """The msmarco-format control: the same files, without the duplicates below, prepare."""
    profile, _ = msmarco_profile(tmp_path, PASSAGES, QUERIES)
    assert prepare_dataset(profile).manifest["counts"]["train_pairs"] == 4


@pytest.mark.parametrize("which", ["passage", "query"])
def test_duplicate_tsv_id_with_another_text(tmp_path, which):
    if which == "passage":
        profile, src = msmarco_profile(tmp_path, PASSAGES + ["3\tanother text under id 3"], QUERIES)
        bad, line = src / "collection.tsv", 9
    else:
        profile, src = msmarco_profile(tmp_path, PASSAGES, QUERIES + ["3\tanother question under id 3"])
        bad, line = src / "queries.train.tsv", 7
    with pytest.raises(DataFormatError) as err:
        prepare_dataset(profile)
    msg = str(err.value)
    assert f"{bad}: record line {line}, field 'id': a unique id; '3' occurs twice" in msg, msg
    assert not profile.processed_dir.exists()


@pytest.mark.parametrize("which", ["collection.tsv", "queries.train.tsv", "qrels.train.tsv"])
def test_empty_tsv_file(tmp_path, which):
    profile, src = msmarco_profile(tmp_path, PASSAGES, QUERIES)
    (src / which).write_text("")
    with pytest.raises(DataFormatError) as err:
        prepare_dataset(profile)
    msg = str(err.value)
    assert msg.startswith(f"{src / which}: at least one") and "found none (the file is empty)" in msg, msg


# ---------------------------------------------------------------- 5. D larger than the training set

def test_subset_size_above_the_training_pairs(tmp_path, prepared):
    src = write_sources(tmp_path / "src")
    profile_path = tmp_path / "toy.yaml"
    prepare_bad(tmp_path, prepared, src, [
        f"{profile_path}: data.subset_sizes asks for 1,000 training pairs, but the training split has only 60; "
        f"expected sizes of at most 60", f"training data from {src / 'train.json'}",
        "after holding out data.validation_groups = 2 groups"], error=ConfigError, subset_sizes=[10, 1000])


def test_more_validation_groups_than_articles(tmp_path, prepared):
    src = write_sources(tmp_path / "src")
    prepare_bad(tmp_path, prepared, src, [
        f"{tmp_path / 'toy.yaml'}: data.validation_groups = 6: must be between 1 and 5 (the train split has 6 groups)",
    ], error=ConfigError, validation_groups=6)


@pytest.mark.parametrize("grid, key, value", [
    ({"joint_shapes": [{"layers": 1, "hidden": 16}], "joint_n_train": [10, 30]}, "grid.joint_n_train", "30"),
    ({"data_size_shape": {"layers": 1, "hidden": 16}, "data_size_n_train": [20, 400]}, "grid.data_size_n_train", "400"),
    ({"model_size_shapes": [{"layers": 1, "hidden": 16}], "model_size_n_train": 41}, "grid.model_size_n_train", "41"),
])
def test_grid_n_train_not_among_the_subsets(tmp_path, grid, key, value):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {**SETTINGS, "search_dirs": [str(tmp_path)]},
                                    "grid": grid}))
    profile = load_profile(path)
    with pytest.raises(ConfigError) as err:
        plan_grid(profile, "key")
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key}: n_train {value} is not one of data.subset_sizes [10, 20, 40]"), msg
    assert not paths.outputs_dir("toy").exists()


# ---------------------------------------------------------------- 6. unknown or mistyped profile keys

@pytest.mark.parametrize("edit, expected", [
    ({"datset": "toy"}, ["unknown key(s) ['datset']; known keys: [", "'dataset'", "'training'"]),
    ({"training": {"setps": 10}}, ["training: unknown key(s) ['setps']; known keys: [", "'steps'"]),
    ({"data": {**SETTINGS, "subset_size": [10]}}, ["data: unknown key(s) ['subset_size']; known keys: [",
                                                   "'subset_sizes'"]),
    ({"data": {**SETTINGS, "files": {"train": "train.json", "tset": "dev.json"}}},
     ["data.files: source squad expects exactly the keys ['test', 'train'] (unknown: ['tset'], missing: ['test'])"]),
    ({"training": {"steps": "many"}}, ["training.steps: expected int, got 'many'"]),
    ({"training": {"learning_rate": "fast"}}, ["training.learning_rate: expected float, got 'fast'"]),
    ({"data": {**SETTINGS, "subset_sizes": 40}}, ["data.subset_sizes: expected a list, got 40"]),
    ({"grid": {"seeds": [0, "one"]}}, ["grid.seeds[1]: expected int, got 'one'"]),
    ({"grid": {"joint_shapes": [{"layers": 1, "hiden": 16}], "joint_n_train": [10]}},
     ["grid.joint_shapes[0]", "unknown key(s) ['hiden']; a shape has"]),
    ({"notebooks": {"05_fit_scaling_law": {"n_bootstrap": 10}}},
     ["notebooks.05_fit_scaling_law: no notebook '05_fit_scaling_law' (notebooks: ['01_prepare_data'"]),
], ids=["top level", "training section", "data section", "data.files", "steps many", "float", "list",
        "list item", "grid shape", "notebook name"])
def test_unknown_or_mistyped_profile_key(tmp_path, prepared, edit, expected):
    raw = {"dataset": "toy", "data": {**SETTINGS, "search_dirs": [str(tmp_path)]}, **edit}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:  # at whichever entry point meets the key first
        profile = load_profile(path)
        plan_grid(profile, "key")
        for name in ("01_prepare_data", "05_fit_scaling_laws"):
            notebook_parameters(profile, name)
    msg = str(err.value)
    assert msg.startswith(f"{path}: "), msg
    for piece in expected:
        assert piece in msg, f"{piece!r} not in: {msg}"
    assert_untouched(prepared)
    assert not paths.outputs_dir("toy").exists()


# ---------------------------------------------------------------- 7. notebook parameters of the wrong type

def notebook_profile(tmp_path, notebooks):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {**SETTINGS, "search_dirs": [str(tmp_path)]},
                                    "notebooks": notebooks}))
    return load_profile(path)


@pytest.mark.parametrize("notebook, key, value, expected", [
    ("05_fit_scaling_laws", "n_bootstrap", "lots", "an integer"),
    ("05_fit_scaling_laws", "n_bootstrap", 10.5, "an integer"),
    ("01_prepare_data", "n_examples", True, "an integer"),
    ("03_evaluate", "bm25", "yes", "true or false"),
    ("06_budget_allocation", "corpus_pages", "many", "a number"),
    ("06_budget_allocation", "budgets", 1e5, "a list"),
    ("06_budget_allocation", "budgets", [1e5, "a lot"], "a list of numbers ('a lot' is not one)"),
])
def test_notebook_parameter_of_the_wrong_type(tmp_path, notebook, key, value, expected):
    default = repr(declared_defaults(notebook_path(notebook))[key])  # as the parameters cell declares it
    profile = notebook_profile(tmp_path, {notebook: {key: value}})
    with pytest.raises(ConfigError) as err:
        notebook_parameters(profile, notebook)
    msg = str(err.value)
    assert msg.startswith(f"{profile.path}: notebooks.{notebook}.{key}: expected {expected}, like the default "
                          f"{default}"), msg
    assert f"declared in the parameters cell of {notebook}.ipynb; got {value!r}" in msg, msg


def test_notebook_parameters_of_compatible_types_pass(tmp_path):
    profile = notebook_profile(tmp_path, {
        "06_budget_allocation": {"corpus_pages": 3, "annotation_price": "6e-1", "budgets": [100, "1e5"]},
        "02_train_grid": {"executor": "ray", "ray_address": 12},  # None defaults accept anything
    })
    params = notebook_parameters(profile, "06_budget_allocation")
    assert params["corpus_pages"] == 3 and params["annotation_price"] == 0.6  # YAML 1.1 reads 6e-1 as a string
    assert params["budgets"] == [100, 1e5] and isinstance(params["budgets"][1], float)
    assert notebook_parameters(profile, "02_train_grid")["ray_address"] == 12


@pytest.mark.parametrize("value, default, result", [
    (2, 0.5, 2), (True, None, True), ([1, 2], [0.5], [1, 2]), ({"a": 1}, {}, {"a": 1}), ("x", "y", "x"),
])
def test_check_parameter_type_accepts(value, default, result):
    assert check_parameter_type(value, default) == result


@pytest.mark.parametrize("value, default", [(True, 0.5), (1, True), ("1", 2), (["a"], [1.0]), ([1], ["a"]), ([], {})])
def test_check_parameter_type_rejects(value, default):
    with pytest.raises(TypeError):
        check_parameter_type(value, default)


@pytest.mark.parametrize("bad, expected", [
    ({"notebooks": {"05_fit_scaling_laws": {"n_bootstrap": "lots"}}},
     r"notebooks\.05_fit_scaling_laws\.n_bootstrap: expected an integer"),
    ({"grid": {"joint_shapes": [{"layers": 1, "hidden": 16}], "joint_n_train": [10, 30]}},
     r"grid\.joint_n_train: n_train 30 is not one of data\.subset_sizes \[10, 20, 40\]"),
], ids=["later notebook's parameter", "grid"])
def test_first_stage_stops_on_a_later_stage_error_before_executing(tmp_path, bad, expected):
    """Stage 01 checks the whole profile: a typo meant for stage 02 or 05 stops `make
    reproduce` at once, with no executed, failed or running notebook written or replaced."""
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {**SETTINGS, "search_dirs": [str(tmp_path)]}, **bad}))
    executed = paths.outputs_dir("toy") / "notebooks"
    executed.mkdir(parents=True)
    (executed / "01_prepare_data.ipynb").write_text("an earlier executed copy")
    before = snapshot(executed.parent)
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: .*{expected}"):
        run_notebook("01_prepare_data", path, kernel="no-such-kernel")
    assert snapshot(executed.parent) == before


@pytest.mark.parametrize("name", sorted(p.stem for p in paths.CONFIGS.glob("*.yaml") if p.stem != "paper_reported"))
def test_shipped_profiles_pass_the_whole_profile_check(name):
    check_profile(load_profile(name))
