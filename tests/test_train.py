import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from drscaling.config import TrainingConfig, load_profile
from drscaling.loss import contrastive_loss
from drscaling.train import epoch_batches, learning_rate


def brute_force_loss(q, p, n, pos_ids, neg_ids, in_batch):
    total = 0.0
    for i in range(len(q)):
        own = float(q[i] @ p[i])
        others = []
        if in_batch:
            others += [float(q[i] @ p[j]) for j in range(len(p)) if j != i and pos_ids[j] != pos_ids[i]]
        others += [float(q[i] @ n[k]) for k in range(len(n)) if neg_ids[k] != pos_ids[i]]
        total += -own + math.log(math.exp(own) + sum(math.exp(s) for s in others))
    return total / len(q)


@pytest.mark.parametrize("in_batch", [True, False])
def test_loss_against_brute_force_with_masking(in_batch):
    g = torch.Generator().manual_seed(0)
    q, p, n = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g), torch.randn(6, 5, generator=g)
    # queries 0 and 2 share passage 7; negative 3 is passage 7, negative 5 is query 1's positive 8
    pos_ids, neg_ids = torch.tensor([7, 8, 7, 9]), torch.tensor([1, 2, 3, 7, 4, 8])
    p[2] = p[0]
    got = contrastive_loss(q, p, n, pos_ids, neg_ids, in_batch=in_batch)
    expected = brute_force_loss(q.numpy(), p.numpy(), n.numpy(), pos_ids.tolist(), neg_ids.tolist(), in_batch)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_shared_positive_is_not_a_negative():
    """Two queries with the same positive: without the mask each would be pushed away from its
    own positive through the other's copy; with it the loss equals the single-positive case."""
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[3.0, 0.0], [3.0, 0.0]])
    n = torch.tensor([[0.0, 1.0]])
    shared = contrastive_loss(q, p, n, torch.tensor([5, 5]), torch.tensor([6]))
    expected = -3 + math.log(math.exp(3) + math.exp(0))
    assert shared.item() == pytest.approx(expected, rel=1e-6)
    unmasked = contrastive_loss(q, p, n, torch.tensor([5, 4]), torch.tensor([6]))
    assert unmasked.item() > shared.item() + 0.5


def test_schedule_and_batches():
    cfg = TrainingConfig(steps=100, warmup_steps=10, learning_rate=1.0)
    assert learning_rate(cfg, 0) == pytest.approx(0.1) and learning_rate(cfg, 9) == pytest.approx(1.0)
    assert learning_rate(cfg, 55) == pytest.approx(0.5) and learning_rate(cfg, 100) == 0.0
    lengths = np.random.default_rng(0).integers(5, 60, size=1000)
    a = epoch_batches(lengths, 32, seed=1, epoch=0)
    assert [x.tolist() for x in a] == [x.tolist() for x in epoch_batches(lengths, 32, seed=1, epoch=0)]
    assert len(a) == 1000 // 32 and len(set(np.concatenate(a).tolist())) == len(a) * 32
    # length bucketing: batches are much more uniform in length than random batches
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in a])
    assert spread < 0.5 * (lengths.max() - lengths.min())


# ---------------------------------------------------------------- whole runs on the smoke data

TINY = {"steps": 30, "eval_every": 10, "batch_size": 16, "negatives": 16, "warmup_steps": 5, "learning_rate": 2e-3,
        "max_query_length": 24, "max_passage_length": 48, "eval_pairs": 64, "eval_pool": 128,
        "stall_margin": -100.0}  # a margin below zero never declares a run stalled


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory, shared_squad):
    from drscaling.datasets import prepare_dataset

    root = tmp_path_factory.mktemp("data")
    old = os.environ.get("DRSCALING_DATA")
    os.environ["DRSCALING_DATA"] = str(root)
    try:
        data = prepare_dataset(load_profile("smoke"))
    finally:
        if old is None:
            del os.environ["DRSCALING_DATA"]
        else:
            os.environ["DRSCALING_DATA"] = old
    return root, data.manifest["key"]


def spec(key, **training):
    return SimpleNamespace(dataset="squad-smoke", data_key=key, annotation="human", model={"layers": 1, "hidden": 32},
                           n_train=400, seed=0, run_id="t", training=asdict(TrainingConfig(**{**TINY, **training})))


def test_run_is_deterministic_and_evaluated(smoke_data, tmp_path, monkeypatch):
    from drscaling.train import train_and_evaluate

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    a = train_and_evaluate(spec(key), tmp_path / "a")
    b = train_and_evaluate(spec(key), tmp_path / "b")
    assert a["status"] == "ok" and a["steps"] == 30
    assert a["cll_test"] == b["cll_test"] and a["cll_validation"] == b["cll_validation"]
    assert 0 < a["cll_test"] < math.log(65) + 1 and 0 <= a["mrr_at_10"] <= 1
    per_query = np.load(tmp_path / "a" / "cll_test.npy")
    assert per_query.mean() == pytest.approx(a["cll_test"])
    log = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [10, 20, 30]
    # where the best check lies, from the log: its index among the three checks and its passes
    best = min(log, key=lambda r: r["validation_cll_check"])
    assert a["checks"] == 3 and a["best_check"] == [10, 20, 30].index(best["step"]) + 1
    assert a["best_pass"] == pytest.approx(best["step"] * spec(key).training["batch_size"] / a["train_pairs"], abs=1e-3)
    c = train_and_evaluate(spec(key, learning_rate=1e-3), tmp_path / "c")
    assert c["cll_test"] != a["cll_test"]


def test_rescoring_a_kept_checkpoint_gives_the_runs_own_evaluation(smoke_data, tmp_path, monkeypatch):
    """evaluate.rescore_run evaluates a finished run's kept checkpoint again without training:
    the same metrics and per-pair CLL as the run recorded, written where it is told; a run
    without a kept checkpoint is refused with its folder named."""
    from drscaling.evaluate import rescore_run
    from drscaling.train import train_and_evaluate

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    run = train_and_evaluate(spec(key), tmp_path / "run")
    again = rescore_run(spec(key), tmp_path / "run", out_dir=tmp_path / "again")
    for metric in ("cll_test", "cll_validation", "mrr_at_10", "ndcg_at_10", "recall_at_100"):
        assert again[metric] == run[metric], metric
    for split in ("test", "validation"):
        assert np.array_equal(np.load(tmp_path / "again" / f"cll_{split}.npy"),
                              np.load(tmp_path / "run" / f"cll_{split}.npy"))
    with pytest.raises(FileNotFoundError, match="no kept checkpoint"):
        rescore_run(spec(key), tmp_path / "never-trained")


def test_keep_last_keeps_the_last_check(smoke_data, tmp_path, monkeypatch):
    """keep: last keeps the final weights (the resumable state's), whatever the checks said,
    and evaluates them; the default keeps the best check's. A high rate puts the best check
    first here, so the two differ."""
    from drscaling.model import DualEncoder
    from drscaling.train import train_and_evaluate

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    settings = {"steps": 60, "learning_rate": 1e-2}
    best = train_and_evaluate(spec(key, **settings), tmp_path / "best")
    last = train_and_evaluate(spec(key, keep="last", **settings), tmp_path / "last")
    assert best["kept"] == "best" and best["best_step"] < 60  # the premise of the test
    assert last["kept"] == "last" and last["best_step"] == 60 and last["best_check"] == last["checks"] == 6
    log = [json.loads(x) for x in (tmp_path / "last" / "log.jsonl").read_text().splitlines()]
    assert last["validation_cll_check_best"] == log[-1]["validation_cll_check"]
    kept = DualEncoder.load(tmp_path / "last" / "best", torch.device("cpu")).state_dict()
    final = DualEncoder.load(tmp_path / "last" / "state", torch.device("cpu")).state_dict()
    assert all(torch.equal(kept[k], final[k]) for k in final)
    assert last["cll_test"] != best["cll_test"]

    def numbers(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    # the same training: the two runs differ only in the checkpoint kept
    assert numbers(json.loads(x) for x in (tmp_path / "best" / "log.jsonl").read_text().splitlines()) == numbers(log)


def test_not_learning_is_detected(smoke_data, tmp_path, monkeypatch):
    from drscaling.train import train_and_evaluate

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    res = train_and_evaluate(spec(key, learning_rate=1e-9, stall_margin=0.3, warmup_steps=2), tmp_path / "r")
    assert res["status"] == "not_learning" and res["steps"] < 30
    assert "not_learning" in (tmp_path / "r" / "log.jsonl").read_text()


RUNNER = """
import json, sys
from types import SimpleNamespace
from drscaling.train import train_and_evaluate
spec = SimpleNamespace(**json.loads(sys.argv[1]))
print(json.dumps(train_and_evaluate(spec, sys.argv[2])))
"""


def test_killed_run_resumes_to_the_same_result(smoke_data, tmp_path):
    """A run killed mid-training and started again ends where an uninterrupted run ends."""
    root, key = smoke_data
    env = {**os.environ, "DRSCALING_DATA": str(root)}
    s = json.dumps(vars(spec(key, steps=60, eval_every=5)))
    whole = json.loads(subprocess.run([sys.executable, "-c", RUNNER, s, str(tmp_path / "whole")], env=env,
                                      capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, s, str(run_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = run_dir / "state" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if json.loads(state.read_text())["step"] >= 20:
                break
        except (FileNotFoundError, ValueError):  # not written yet, or being replaced
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = json.loads(state.read_text())["step"]
    assert 20 <= stopped_at < 60, "the run was not interrupted mid-training"
    resumed = json.loads(subprocess.run([sys.executable, "-c", RUNNER, s, str(run_dir)], env=env,
                                        capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    assert resumed["cll_test"] == whole["cll_test"] and resumed["best_step"] == whole["best_step"]
    steps = [json.loads(x)["step"] for x in (run_dir / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(5, 65, 5))  # no duplicated or missing log lines


# ---------------------------------------------------------------- other annotation methods

def test_stacked_batch_pads_two_sources_together():
    from drscaling.tokens import Tokens, stacked_batch

    a = Tokens(np.array([[5, 6, 7, 0], [8, 0, 0, 0]], dtype=np.int32), np.array([3, 1]))
    b = Tokens(np.array([[9, 9, 0, 0], [4, 4, 4, 4]], dtype=np.int32), np.array([2, 4]))
    ids, mask = stacked_batch((a, np.array([1])), (b, np.array([0])))
    assert ids.tolist() == [[8, 0], [9, 9]] and mask.tolist() == [[1, 0], [1, 1]]
    ids, mask = stacked_batch((a, np.array([0, 1])), (b, np.array([1])))
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [4, 4, 4, 4]]
    assert mask.sum(1).tolist() == [3, 1, 4]
    # one source: exactly what Tokens.batch gives (human runs keep their numbers)
    same = stacked_batch((b, np.array([1])), (b, np.array([0])))
    ref = b.batch(np.array([1, 0]))
    assert all(torch.equal(x, y) for x, y in zip(same, ref))
    with pytest.raises(ValueError, match="max length"):
        stacked_batch((a, np.array([0])), (Tokens(np.zeros((1, 3), dtype=np.int32), np.array([1])), np.array([0])))


@pytest.mark.parametrize("method, options", [("ict", {"keep_sentence_prob": 0.0}), ("noisy_human", {"rate": 0.5})])
def test_runs_on_other_annotations(smoke_data, tmp_path, monkeypatch, method, options):
    from drscaling.annotation.pairs import pairs_path, read_pairs
    from drscaling.datasets import ProcessedData
    from drscaling.train import train_and_evaluate

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    s = spec(key)
    s.annotation, s.annotation_options, s.n_train = method, options, 200
    a = train_and_evaluate(s, tmp_path / "a")
    assert a["status"] == "ok" and a["train_pairs"] == 200 and math.isfinite(a["cll_test"])
    data = ProcessedData(root / "processed" / "squad-smoke")
    stored = pairs_path(data, method, 200, 0, options)
    assert stored.is_file()  # made once, beside the prepared data
    pairs = read_pairs(stored)
    assert a["train_passages"] == pairs["pid"].nunique()
    if method == "noisy_human":
        assert a["noisy_pairs"] == 100
    else:
        assert a["train_passages"] == 200  # one query per passage
    assert train_and_evaluate(s, tmp_path / "b")["cll_test"] == a["cll_test"]  # deterministic
    human = spec(key)
    human.n_train = 200
    assert train_and_evaluate(human, tmp_path / "h")["cll_test"] != a["cll_test"]


def test_unique_rows_equals_numpy_unique():
    from drscaling.evaluate import unique_rows

    rng = np.random.default_rng(0)
    for rows in (rng.integers(0, 50, size=1000), np.array([7, 7, 3]), np.array([0]), np.array([], dtype=np.int64),
                 rng.integers(0, 5, size=(4, 3, 2)).ravel()):
        values, inverse = unique_rows(rows)
        ref_values, ref_inverse = np.unique(rows, return_inverse=True)
        assert values.tolist() == ref_values.tolist() and inverse.tolist() == ref_inverse.ravel().tolist()
        assert (values[inverse] == rows).all()
    with pytest.raises(ValueError, match="non-negative"):
        unique_rows(np.array([3, -1]))


def test_training_precision_follows_the_cpu(monkeypatch):
    from drscaling import device as train

    cpu, cfg = torch.device("cpu"), TrainingConfig(cpu_bf16=True)
    monkeypatch.setattr(train, "cpu_has_bf16", lambda: True)
    assert train.training_precision(cfg, cpu) == "bf16"
    assert train.training_precision(TrainingConfig(), cpu) == "fp32"  # off by default on a CPU
    monkeypatch.setattr(train, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no bf16 instructions"):
        assert train.training_precision(cfg, cpu) == "fp32"
    assert train.training_precision(TrainingConfig(bf16=False), torch.device("cuda")) == "fp32"
    assert train.training_precision(TrainingConfig(), torch.device("cuda")) == "bf16"


def test_cpu_bf16_run(smoke_data, tmp_path, monkeypatch):
    """A run with bf16 autocast on the CPU trains, is deterministic and records its precision;
    its test CLL is not the fp32 run's (the autocast took effect) but close to it."""
    from drscaling import device, train

    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)  # emulated where the CPU lacks it: slower, same maths
    a = train.train_and_evaluate(spec(key, cpu_bf16=True), tmp_path / "a")
    b = train.train_and_evaluate(spec(key, cpu_bf16=True), tmp_path / "b")
    fp32 = train.train_and_evaluate(spec(key), tmp_path / "fp32")
    assert a["status"] == "ok" and a["precision"] == "bf16" and fp32["precision"] == "fp32"
    assert a["cll_test"] == b["cll_test"]
    assert a["cll_test"] != fp32["cll_test"] and abs(a["cll_test"] - fp32["cll_test"]) < 0.1


@pytest.mark.parametrize("in_batch", [True, False])
def test_example_batch_shows_the_scores_the_loss_is_made_of(smoke_data, in_batch):
    """The table's scores, put through a softmax per query by hand, give the loss the trainer
    computes for that batch."""
    from drscaling.datasets import ProcessedData
    from drscaling.model import DualEncoder
    from drscaling.train import example_batch

    root, _ = smoke_data
    tokenizer = ProcessedData(root / "processed" / load_profile("smoke").processed_dir.name).tokenizer()
    model = DualEncoder.from_shape(1, 16, vocab_size=len(tokenizer), projection_dim=8, seed=0)
    cfg = TrainingConfig(in_batch_negatives=in_batch, max_query_length=16, max_passage_length=32)
    queries = ["who wrote the song", "when was it built", "where is the river"]
    positives = ["the song was written by a band", "the bridge was built in 1900", "the river runs north"]
    negatives = ["a cat sat on a mat", "prices rose last year"]
    scores, loss = example_batch(model, tokenizer, queries, positives, negatives, cfg)
    assert scores.shape == (3, (3 if in_batch else 1) + 2)
    s = scores.to_numpy(np.float64)
    own = np.arange(3) if in_batch else np.zeros(3, dtype=int)
    by_hand = np.mean([np.log(np.exp(row).sum()) - row[i] for row, i in zip(s, own)])
    assert loss == pytest.approx(by_hand, rel=1e-5)
    assert list(scores.columns[-2:]) == ["negative 1", "negative 2"]
    assert model.training  # left in the mode it came in (a new module trains)


def test_build_model_draws_the_projection_the_config_names():
    """training.projection_init reaches a new model (not one loaded from a pretraining); its
    default leaves from_shape's draw as it was, so runs planned before it keep their weights."""
    from drscaling.config import TrainingConfig
    from drscaling.model import DualEncoder
    from drscaling.train import build_model

    shape = {"layers": 1, "hidden": 8}
    plain = build_model(shape, 1000, TrainingConfig(), seed=3)
    reference = DualEncoder.from_shape(1, 8, 1000, seed=3)
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in reference.state_dict().items())
    bert = build_model(shape, 1000, TrainingConfig(projection_init="bert"), seed=3)
    assert torch.count_nonzero(bert.projection.bias) == 0
    assert not torch.equal(bert.projection.weight, plain.projection.weight)
