"""How much of the answer a truncated passage keeps: the share of questions whose (first) answer
ends within the first L words (SQuAD) or characters (the Chinese pool), read from the raw files.
Chose cpu-zh's max_passage_length (research/design-log.md#cpu-zh-a-second-language-2026-12-07).

    DRSCALING_DATASETS=../shared/datasets python research/answer_positions.py
"""

from __future__ import annotations

import argparse
import statistics

from drscaling import paths
from drscaling.datasets.squad import read_json_file

ENGLISH = ["squad-v1.1/train-v1.1.json.gz"]
CHINESE = ["cmrc2018/cmrc2018_dev.json.gz", "cmrc2018/cmrc2018_trial.json.gz", "drcd/DRCD_dev.json.gz",
           "drcd/DRCD_test.json.gz"]


def answer_ends(files, unit: str):
    """(answer end positions, passage lengths, question lengths), in words or characters."""
    def size(text):
        return len(text) if unit == "char" else len(text.split())
    ends, passages, questions = [], [], []
    for name in files:
        for article in read_json_file(paths.shared_datasets() / name)["data"]:
            for p in article["paragraphs"]:
                passages.append(size(p["context"]))
                for q in p["qas"]:
                    if not q["question"].strip() or not q["answers"]:
                        continue
                    a = q["answers"][0]
                    questions.append(size(q["question"]))
                    ends.append(size(p["context"][:a["answer_start"] + len(a["text"])]))
    return ends, passages, questions


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    for files, unit, lengths in ((ENGLISH, "word", (48, 64)), (CHINESE, "char", (64, 96, 128, 192, 256))):
        ends, passages, questions = answer_ends(files, unit)
        print(f"{', '.join(files)}: {len(passages):,} passages (median {statistics.median(passages):.0f} {unit}s), "
              f"{len(ends):,} questions (median {statistics.median(questions):.0f} {unit}s, 99th percentile "
              f"{sorted(questions)[int(0.99 * len(questions))]})")
        for n in lengths:
            print(f"  answer ends within the first {n} {unit}s: {sum(e <= n for e in ends) / len(ends):.3f}")


if __name__ == "__main__":
    main()
