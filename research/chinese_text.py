"""How the Chinese pool's two scripts and its tokenizer behave (issue 27): the share of
characters OpenCC's t2s changes in each file, whether a converted DRCD passage coincides with a
CMRC 2018 one, and, with the prepared cpu-zh data, how many tokens a character the tokenizer
makes and how many of the corpus's tokens it does not know.

    DRSCALING_DATASETS=../shared/datasets python research/chinese_text.py
"""

from __future__ import annotations

import argparse
import collections

import pandas as pd

from drscaling import paths
from drscaling.datasets.squad import converter, read_json_file
from drscaling.tokenizer import cjk_share, load_tokenizer

FILES = {"cmrc2018": ["cmrc2018_dev.json.gz", "cmrc2018_trial.json.gz"], "drcd": ["DRCD_dev.json.gz", "DRCD_test.json.gz"]}


def passages(folder: str, name: str) -> list[str]:
    doc = read_json_file(paths.shared_datasets() / folder / name)
    return [p["context"] for a in doc["data"] for p in a["paragraphs"]]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    t2s = converter("t2s")
    converted = collections.defaultdict(set)
    for folder, names in FILES.items():
        for name in names:
            texts = passages(folder, name)
            chars = sum(len(t) for t in texts)
            changed = 0
            for t in texts:
                c = t2s(t)
                changed += sum(a != b for a, b in zip(t, c))
                converted[folder].add(c)
            print(f"{name}: {len(texts):,} passages, {chars:,} characters, t2s changes {changed:,} "
                  f"({100 * changed / chars:.2f}%); CJK share {cjk_share(texts):.2f}")
    print(f"converted DRCD passages equal to a CMRC 2018 one: {len(converted['drcd'] & converted['cmrc2018'])}")
    data = paths.processed_dir("zh-pool")
    if not (data / "tokenizer").is_dir():
        print(f"{data}: not prepared (make 01_prepare_data PROFILE=cpu-zh): tokenizer figures skipped")
        return
    tok = load_tokenizer(data / "tokenizer")
    texts = pd.read_parquet(data / "corpus.parquet")["text"].tolist()
    unk = tok.unk_token_id
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    chars = sum(len(t) - t.count(" ") for t in texts)
    n_tokens = sum(map(len, ids))
    n_unknown = sum(i == unk for row in ids for i in row)
    # a character on its own: which ones the tokenizer cannot name (each distinct character once)
    unknown = sorted(c for c in {c for t in texts for c in t} if tok(c, add_special_tokens=False)["input_ids"] == [unk])
    print(f"tokenizer ({len(tok.get_vocab()):,} tokens), whole corpus (test included): {n_tokens / chars:.3f} "
          f"tokens a non-space character; {n_unknown:,} of {n_tokens:,} tokens unknown ({len(unknown)} distinct "
          f"characters: the tokenizer keeps a character seen twice in the training texts)"
          + (f", e.g. {''.join(unknown[:15])}" if unknown else ""))


if __name__ == "__main__":
    main()
