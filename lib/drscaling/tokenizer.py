"""A BERT-style WordPiece tokenizer trained on the training texts, for models trained from
scratch (pretrained checkpoints bring their own tokenizer)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# CJK ideographs (basic, extension A, compatibility, extensions B+) and kana
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
CJK_CHAR = re.compile(f"([{CJK}])")
# Above this share of CJK characters a text has no spaces between its words (Chinese): a
# whitespace "word" would be a whole clause, so BM25 and lengths go by characters.
MOSTLY_CJK = 0.3


def cjk_share(texts: Iterable[str]) -> float:
    """The share of CJK characters among the non-space characters of ``texts``."""
    chars = cjk = 0
    for t in texts:
        chars += len(t) - sum(c.isspace() for c in t)
        cjk += len(CJK_CHAR.findall(t))
    return cjk / chars if chars else 0.0


def train_wordpiece(texts: Iterable[str], vocab_size: int, lowercase: bool = True, min_frequency: int = 2):
    """Train a WordPiece vocabulary (BERT normalisation and pre-tokenisation: CJK characters
    are split one per token) and return it as a ``transformers`` fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    def pipeline(model):
        tok = Tokenizer(model)
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        return tok

    texts = list(texts)  # read twice
    # The trainer makes the "##x" token of each character that continues a word in hash-map
    # order, another order in every process, and breaks ties between equally frequent merges
    # by token id: the same texts gave other vocabularies (huggingface/tokenizers#1794). So a
    # first pass without merges finds the characters and "##x" tokens, and the training gets
    # them up front, sorted (the characters first, as the trainer orders them): same ids, same
    # vocabulary, every time. It costs one more count of the words.
    tok = pipeline(models.WordPiece(unk_token="[UNK]"))
    tok.train_from_iterator(texts, trainer=trainers.WordPieceTrainer(
        vocab_size=0, special_tokens=SPECIAL_TOKENS, show_progress=False))
    pieces = set(tok.get_vocab()) - set(SPECIAL_TOKENS)
    initial = sorted(t for t in pieces if not t.startswith("##")) + sorted(t for t in pieces if t.startswith("##"))
    tok = pipeline(models.WordPiece(unk_token="[UNK]"))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS + initial, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # The trainer numbers part of its vocabulary in hash-map order too: renumber canonically,
    # the special tokens, then every other token in sorted order. A fresh tokenizer, so that
    # only the real special tokens are special (not the "##x" tokens given to the trainer).
    trained = tok.get_vocab()
    ordered = SPECIAL_TOKENS + sorted(t for t in trained if t not in SPECIAL_TOKENS)
    tok = pipeline(models.WordPiece(vocab={t: i for i, t in enumerate(ordered)}, unk_token="[UNK]",
                                    continuing_subword_prefix="##"))
    tok.add_special_tokens(SPECIAL_TOKENS)
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
