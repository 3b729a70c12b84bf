"""Pretrained checkpoints offline: a tiny BERT and a tiny ERNIE, built from configs and saved
with save_pretrained (model and tokenizer), are trained through the grid by local path,
evaluated with their own tokenizer and counted."""

import yaml

from drscaling import grid
from drscaling.config import load_profile
from drscaling.model import DualEncoder, count_nonembedding_params, count_params_as_paper_code
from tests.test_train import smoke_data  # noqa: F401  (the prepared smoke dataset, a fixture)

LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def tiny_checkpoint(root, kind):
    """A 1-layer, 16-wide model with a character-level WordPiece vocabulary (every English
    text tokenises), saved with its tokenizer. Its vocabulary (80 ids) is far smaller than the
    profile's WordPiece (2,000): ids of the wrong tokenizer would not fit its embeddings."""
    from transformers import BertConfig, BertModel, BertTokenizerFast, ErnieConfig, ErnieModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *(f"##{c}" for c in LETTERS)]
    folder = root / kind
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    shape = dict(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=128)
    if kind == "bert":
        BertModel(BertConfig(**shape)).save_pretrained(folder)
    else:  # ERNIE 3.0 has task-type embeddings on top of BERT's
        ErnieModel(ErnieConfig(**shape, use_task_id=True, task_type_vocab_size=3)).save_pretrained(folder)
    return folder


def test_tiny_bert_and_ernie_train_evaluate_and_count_through_the_grid(smoke_data, tmp_path, monkeypatch):  # noqa: F811
    root, key = smoke_data
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoints = {kind: tiny_checkpoint(tmp_path, kind) for kind in ("bert", "ernie")}
    smoke = yaml.safe_load(open(load_profile("smoke").path))
    doc = {"dataset": "squad-smoke", "data": smoke["data"],
           "training": {**smoke["training"], "steps": 20, "eval_every": 10},
           "grid": {"model_size_shapes": [{"pretrained": str(p)} for p in checkpoints.values()],
                    "model_size_n_train": 200}}
    path = tmp_path / "squad-smoke.yaml"
    path.write_text(yaml.safe_dump(doc))
    prof = load_profile(path)
    planned = grid.plan_grid(prof, key)
    assert len(planned) == 2
    records = grid.run_grid(prof, planned, progress=False)
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    for kind, record in zip(checkpoints, records):
        result = record["result"]
        assert result["steps"] == 20 and 0 < result["cll_test"] < 10 and 0 <= result["mrr_at_10"] <= 1
        assert result["eval_precision"] == "fp32"  # on a CPU, and on a GPU unless training.eval_bf16
        # N: the backbone's layers and the new 768-d projection, as counted on the loaded checkpoint
        model = DualEncoder.from_pretrained(str(checkpoints[kind]))
        assert type(model.backbone).__name__ == {"bert": "BertModel", "ernie": "ErnieModel"}[kind]
        assert result["n_params"] == count_nonembedding_params(model) == 1 * (12 * 16 * 16 + 13 * 16) + 16 * 768 + 768
        assert result["n_params_paper_code"] == count_params_as_paper_code(model) == result["n_params"] + 16 * 16 + 16
        # the kept checkpoint reloads as the checkpoint's own class
        best = DualEncoder.load(grid.runs_dir(prof) / record["run_id"] / "best")
        assert type(best.backbone) is type(model.backbone)
