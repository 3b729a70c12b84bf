import torch

from drscaling.model import DualEncoder, bert_config, count_nonembedding_params, count_params_as_paper_code


def layer_params(h: int) -> int:
    """One BERT layer by hand: Q, K, V and output projections (4 h^2 + 4 h), two LayerNorms
    (4 h), feed-forward h -> 4h -> h (8 h^2 + 5 h)."""
    return 4 * h * h + 4 * h + 4 * h + 8 * h * h + 5 * h


def test_bert_base_and_tiny_counts():
    base = DualEncoder.from_shape(12, 768, vocab_size=30522)
    assert count_nonembedding_params(base) == 12 * layer_params(768) + 768 * 768 + 768 == 85_645_056
    tiny = DualEncoder.from_shape(2, 128, vocab_size=30522)  # BERT-tiny's shape
    assert count_nonembedding_params(tiny) == 2 * layer_params(128) + 128 * 768 + 768 == 495_616
    assert tiny.backbone.config.num_attention_heads == 2 and base.backbone.config.num_attention_heads == 12
    assert base.backbone.config.intermediate_size == 3072


def test_paper_code_count_matches_its_definition():
    """The released code summed parameters whose name lacks 'embedding' over a BERT with its
    pooler, plus the 768-d projection."""
    from transformers import BertModel

    for layers, hidden in [(2, 128), (4, 256)]:
        with_pooler = BertModel(bert_config(layers, hidden, 1000))  # add_pooling_layer=True, as theirs
        theirs = sum(p.numel() for n, p in with_pooler.named_parameters() if "embedding" not in n) + hidden * 768 + 768
        assert count_params_as_paper_code(DualEncoder.from_shape(layers, hidden, 1000)) == theirs


def test_mean_pooling_ignores_padding():
    model = DualEncoder.from_shape(1, 32, vocab_size=50, seed=0).eval()
    ids = torch.tensor([[2, 7, 9, 3, 0, 0]])
    with torch.no_grad():
        padded = model.encode(ids, torch.tensor([[1, 1, 1, 1, 0, 0]]))
        trimmed = model.encode(ids[:, :4], torch.ones(1, 4, dtype=torch.long))
    assert padded.shape == (1, 768) and torch.allclose(padded, trimmed, atol=1e-5)


def test_checkpoint_round_trip_uses_safetensors(tmp_path):
    model = DualEncoder.from_shape(1, 32, vocab_size=50, seed=1).eval()
    model.save(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["encoder.json", "model.safetensors"]
    loaded = DualEncoder.load(tmp_path / "ckpt").eval()
    ids, mask = torch.tensor([[2, 5, 6, 3]]), torch.ones(1, 4, dtype=torch.long)
    with torch.no_grad():
        assert torch.equal(model.encode(ids, mask), loaded.encode(ids, mask))


def test_seeded_initialisation():
    a, b = DualEncoder.from_shape(1, 32, 50, seed=3), DualEncoder.from_shape(1, 32, 50, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
