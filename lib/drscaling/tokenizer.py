"""A BERT-style WordPiece tokenizer trained on the training texts, for models trained from
scratch (pretrained checkpoints bring their own tokenizer)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: Iterable[str], vocab_size: int, lowercase: bool = True, min_frequency: int = 2):
    """Train a WordPiece vocabulary (BERT normalisation and pre-tokenisation: CJK characters
    are split one per token) and return it as a ``transformers`` fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # The trainer numbers part of its vocabulary in hash-map order, which differs between
    # processes: the same texts gave the same tokens under other ids, hence other models. So
    # renumber canonically: the special tokens, then every other token in sorted order.
    trained = tok.get_vocab()
    ordered = SPECIAL_TOKENS + sorted(t for t in trained if t not in SPECIAL_TOKENS)
    tok.model = models.WordPiece(vocab={t: i for i, t in enumerate(ordered)}, unk_token="[UNK]",
                                 continuing_subword_prefix="##")
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )


def load_tokenizer(path: str | Path):
    """A tokenizer saved by data preparation (a folder) or a pretrained checkpoint's."""
    path = Path(path)
    if (path / "tokenizer.json").is_file():  # ours: skip the slow AutoTokenizer machinery
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(str(path))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
