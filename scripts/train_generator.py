"""Train (or reuse) the local query generator of a profile's dataset and measure it (issue 15).

The generator's settings are those of the profile's ``generated`` method with ``model_path:
local`` (its ``generator`` options over GeneratorConfig's defaults), or the defaults when the
profile has none. Prints the training time (from the generator's result.json: the time of the
training that made it, not of this call when it was reused), its validation loss, and on
``--n`` validation passages the ROUGE-L F1 of greedy queries against the human questions, the
share that copy a span of their passage, the time to write them, and a few examples.

    python scripts/train_generator.py --profile cpu [--n 200] [--steps 3000]
        [--generator '{"max_passage_length": 64}']   # any GeneratorConfig field, for pilots
        [--decoding '{"no_repeat_ngram_size": 2}']   # decoding options (default: the profile's)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import read_json
from drscaling.annotation.generator import LOCAL, GeneratorConfig, generator_quality, local_generator, local_settings


def profile_generator(profile) -> tuple[GeneratorConfig, dict]:
    """The generator settings and decoding options of the profile's generated-local method."""
    for entry in profile.grid.annotation_methods:
        entry = dict(entry)
        if entry.get("method") == "generated" and entry.get("model_path") == LOCAL:
            return local_settings(entry)
    return GeneratorConfig(), {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--n", type=int, default=200, help="validation passages to score")
    parser.add_argument("--steps", type=int, default=None, help="override the generator's training steps")
    parser.add_argument("--generator", type=json.loads, default={},
                        help="GeneratorConfig fields over the profile's, as JSON (a pilot's settings)")
    parser.add_argument("--decoding", type=json.loads, default=None,
                        help="decoding options as JSON (default: the profile's generated-local method's)")
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    data = ProcessedData(profile.processed_dir)
    cfg, decoding = profile_generator(profile)
    if args.decoding is not None:
        decoding = args.decoding
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    cfg = dataclasses.replace(cfg, **args.generator)
    folder = local_generator(data, cfg)
    trained = read_json(folder / "result.json")
    started = time.perf_counter()
    quality = generator_quality(data, folder, n=args.n, **decoding)
    seconds = time.perf_counter() - started
    print(json.dumps({"folder": str(folder), "config": dataclasses.asdict(cfg), "train_pairs": trained["train_pairs"],
                      "train_seconds": trained["seconds"], "train_loss": trained["train_loss"],
                      "validation_loss": trained["validation_loss"], "log": trained["log"],
                      "decoding": decoding, "rouge_l": round(quality["rouge_l"], 4), "copy_rate": round(quality["copy_rate"], 4),
                      "scored_passages": quality["n"], "quality_seconds": round(seconds, 1)}, indent=1))
    for ex in quality["examples"][:args.examples]:
        print(f"\npassage:   {ex['passage'][:160]}\nhuman:     {ex['human']}\ngenerated: {ex['generated']}")


if __name__ == "__main__":
    main()
