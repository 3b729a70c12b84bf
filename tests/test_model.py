import math

import pytest
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


# ---------------------------------------------------------------- CPU dropout and attention

def test_dropout_mask_rate_scale_and_seeding():
    from drscaling.model import dropout_mask

    torch.manual_seed(7)
    mask = dropout_mask((1000, 1000), 0.1)
    drop = round(0.1 * 65536)
    values = torch.unique(mask)
    assert len(values) == 2 and values[0] == 0 and values[1].item() == pytest.approx(65536 / (65536 - drop), rel=1e-7)
    # a million Bernoulli(0.9) draws: the standard deviation of the kept share is 3e-4
    assert abs((mask > 0).float().mean().item() - (1 - drop / 65536)) < 2e-3
    assert abs(mask.double().mean().item() - 1.0) < 3e-3
    torch.manual_seed(7)
    assert torch.equal(dropout_mask((1000, 1000), 0.1), mask)  # a function of torch's seed
    assert not torch.equal(dropout_mask((1000, 1000), 0.1), mask)
    assert dropout_mask((3, 4), 0.5, torch.bfloat16).dtype == torch.bfloat16


def test_dropout_module_matches_its_mask_and_is_identity_in_eval():
    from drscaling.model import Dropout, dropout_mask

    x = torch.randn(8, 5, 16, requires_grad=True)
    layer = Dropout(0.3).train()
    torch.manual_seed(1)
    y = layer(x)
    torch.manual_seed(1)
    mask = dropout_mask((8, 5, 16), 0.3)
    assert torch.equal(y, x * mask)
    y.sum().backward()
    assert torch.equal(x.grad, mask)  # the gradient passes where the mask keeps
    assert layer.eval()(x) is x and Dropout(0.0).train()(x) is x


def test_set_dropout_reaches_every_layer_and_the_saved_config(tmp_path):
    from drscaling.config import ConfigError, TrainingConfig
    from drscaling.model import set_dropout

    model = DualEncoder.from_shape(2, 16, vocab_size=50, projection_dim=8, seed=0).train()
    ids = torch.randint(5, 50, (4, 9))
    mask = torch.ones_like(ids)
    assert not torch.equal(model(ids, mask), model(ids, mask))  # BERT's own 0.1
    set_dropout(model, 0.0)
    assert torch.equal(model(ids, mask), model(ids, mask))  # no layer left dropping (attention included)
    set_dropout(model, 0.3)
    ps = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    assert ps == {0.3}
    model.save(tmp_path)
    config = DualEncoder.load(tmp_path).backbone.config
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.3
    with pytest.raises(ConfigError, match="training.dropout"):
        TrainingConfig(dropout=1.0)


def test_attention_matches_the_reference_with_and_without_dropout():
    """Our attention function against transformers' eager attention (no dropout) and against
    the same maths written out with the mask the function draws (with dropout)."""
    from transformers.models.bert.modeling_bert import eager_attention_forward

    from drscaling.model import attention, dropout_mask

    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 8) for _ in range(3))
    keep = torch.ones(3, 1, 6, 6, dtype=torch.bool)
    keep[0, :, :, 4:] = False  # the first row's last two tokens are padding
    module = torch.nn.Module().train()
    additive = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
    ref, _ = eager_attention_forward(module, q, k, v, additive, scaling=8 ** -0.5, dropout=0.0)
    out, _ = attention(module, q, k, v, keep, scaling=8 ** -0.5, dropout=0.0)
    assert torch.allclose(out, ref, atol=1e-6)

    torch.manual_seed(5)
    out, _ = attention(module, q, k, v, keep, scaling=8 ** -0.5, dropout=0.25)
    torch.manual_seed(5)
    mask = dropout_mask((3, 2, 6, 6), 0.25)
    weights = torch.softmax((q @ k.transpose(2, 3) * 8 ** -0.5).masked_fill(~keep, -1e30), -1) * mask
    assert torch.allclose(out, (weights @ v).transpose(1, 2), atol=1e-6)
    assert not torch.allclose(out, ref, atol=1e-3)


def test_encoder_equals_transformers_bert_in_eval_and_without_dropout():
    """Swapping in our dropout and attention changes no weights and no eval-mode output; in
    training mode it only changes which units are dropped."""
    from transformers import BertModel

    config = bert_config(2, 64, 100)
    torch.manual_seed(0)
    plain = BertModel(config, add_pooling_layer=False)
    ours = DualEncoder(BertModel(config, add_pooling_layer=False))
    ours.backbone.load_state_dict(plain.state_dict())
    assert ours.backbone.config._attn_implementation == "drscaling"
    ids = torch.randint(5, 100, (4, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    pooled = lambda h: (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)  # noqa: E731
    with torch.no_grad():
        expected = ours.projection(pooled(plain.eval()(input_ids=ids, attention_mask=mask).last_hidden_state))
        assert torch.allclose(ours.eval().encode(ids, mask), expected, atol=1e-5)
        ours.train()
        torch.manual_seed(2)
        a = ours.encode(ids, mask)
        torch.manual_seed(2)
        assert torch.equal(ours.encode(ids, mask), a) and not torch.allclose(a, expected, atol=1e-3)


def test_compact_embeddings_give_the_same_scores_as_the_projection():
    """[a, 1] . [M c + u, u.c + b.b] = (W a + b) . (W c + b): checked against the 768-d
    embeddings' inner products on a random model with a non-zero bias."""
    torch.manual_seed(0)
    model = DualEncoder.from_shape(1, 8, 50, projection_dim=768, seed=1).eval()  # no dropout
    with torch.no_grad():
        model.projection.bias.normal_()
    ids = torch.randint(5, 50, (6, 9))
    mask = torch.ones_like(ids)
    mask[3:, 6:] = 0
    full = model.encode(ids, mask).detach().double()
    pooled = model.pool(ids, mask)
    q, p = model.compact(pooled, "query"), model.compact(pooled, "passage")
    assert q.shape == p.shape == (6, 9) == (6, model.compact_dim())
    expected = full @ full.T
    got = (q.double() @ p.double().T)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-4 * expected.abs().max().item())
    with pytest.raises(ValueError, match="side"):
        model.compact(pooled, "both")


def test_parameter_breakdown_and_shape_table():
    from drscaling.model import parameter_breakdown, shape_table

    model = DualEncoder.from_shape(2, 32, vocab_size=100, projection_dim=768, seed=0)
    got = parameter_breakdown(model)
    assert got["layers"] == 2 * layer_params(32)  # by hand, as in the counts test above
    assert got["projection"] == 32 * 768 + 768
    assert got["N"] == got["layers"] + got["projection"] == count_nonembedding_params(model)
    assert got["embedding"] + got["N"] == sum(p.numel() for p in model.parameters())
    assert got["projection_share"] == pytest.approx(got["projection"] / got["N"])
    table = shape_table([{"layers": 1, "hidden": 64}, {"layers": 1, "hidden": 8}, {"pretrained": "x"},
                         {"layers": 1, "hidden": 8, "training": {"learning_rate": 1.0}}], vocab_size=100)
    assert table["shape"].tolist() == ["L1-H8", "L1-H64"]  # distinct, by N; checkpoints left out
    assert table["projection_share"].iloc[0] > 0.7  # at H = 8 the projection is most of N


def test_projection_init_bert_starts_the_scores_at_chance_and_keeps_the_backbone():
    """torch's uniform +-1/sqrt(H) projection gives a narrow shape wide random scores at the
    start (a loss far above chance); BERT's normal(0.02) with a zero bias starts every width
    near chance. The backbone of a seed is the same under either, so a comparison of the two
    changes the projection alone."""
    gen = torch.Generator().manual_seed(0)
    queries, passages = torch.randint(5, 1000, (64, 12), generator=gen), torch.randint(5, 1000, (64, 40), generator=gen)

    def start_loss(model):
        model.eval()
        with torch.no_grad():
            scores = model.encode(queries, torch.ones_like(queries)) @ model.encode(passages, torch.ones_like(passages)).T
        return float(torch.nn.functional.cross_entropy(scores, torch.arange(64)))

    chance = math.log(64)
    torch_init = DualEncoder.from_shape(1, 8, 1000, seed=3)
    bert_init = DualEncoder.from_shape(1, 8, 1000, seed=3).init_projection("bert")
    assert start_loss(torch_init) > chance + 1.0
    assert start_loss(bert_init) == pytest.approx(chance, abs=0.05)
    assert torch.count_nonzero(bert_init.projection.bias) == 0
    assert float(bert_init.projection.weight.std()) == pytest.approx(0.02, rel=0.05)  # 6,144 draws
    a, b = torch_init.backbone.state_dict(), bert_init.backbone.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    xavier = DualEncoder.from_shape(1, 8, 1000, seed=3).init_projection("xavier")
    assert float(xavier.projection.weight.std()) == pytest.approx((2 / (8 + 768)) ** 0.5, rel=0.05)
    assert chance < start_loss(xavier) < start_loss(torch_init)
    with pytest.raises(ValueError, match="expected torch, bert or xavier"):
        torch_init.init_projection("glorot")
