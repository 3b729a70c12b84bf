"""Regenerate the README's results section for a profile from its outputs (never typed by hand).

Copies the figures the README shows to reports/<profile>/ and rewrites the README between
<!-- report:<profile>:start --> and <!-- report:<profile>:end -->: the grid's runs, the stages'
wall times (from papermill's record in the executed notebooks), the fitted laws with their 95%
intervals next to the paper's values, the extrapolation checks and the CLL-ranking correlation.

    python scripts/report.py --profile cpu        (what `make report` runs)
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil

import pandas as pd

from drscaling import paths
from drscaling.config import load_profile
from drscaling.fileio import read_json, write_json, write_text
from drscaling.laws import paper_reported, paper_value
from drscaling.preregistration import held_out_sizes, study_verdicts, verdicts

LAWS = ("model_size", "data_size", "joint")  # the paper's three
TRANSFERS = ("data_size_transfer", "joint_transfer")  # the transfer forms, fitted beside the paper's; it has none
FIGURES = ["law_model_size.png", "law_data_size.png", "law_joint.png", "law_joint_transfer.png", "ranking_vs_cll.png",
           "annotation_laws.png", "annotation_noise.png"]


def fmt(v, digits=3):
    return "—" if v is None or (isinstance(v, float) and pd.isna(v)) else f"{v:.{digits}g}"


def stage_times(out) -> list[str]:
    rows = []
    for nb in sorted((out / "notebooks").glob("*.ipynb")):
        if nb.name.endswith(".failed.ipynb"):
            continue
        meta = json.loads(nb.read_text())["metadata"].get("papermill", {})
        if meta.get("duration") is not None:
            rows.append(f"| `{nb.stem}` | {meta['duration'] / 60:.1f} min | {meta.get('end_time', '')[:19]} |")
    return ["| stage | wall time | finished (UTC) |", "|---|---|---|", *rows]


def fitted_laws(fits: dict) -> list[str]:
    """The paper's three laws, then the transfer forms where fits.json has them (older ones do not)."""
    return [*LAWS, *(law for law in TRANSFERS if law in fits["laws"])]


def laws_table(fits: dict, reported: dict) -> list[str]:
    lines = ["| law | parameter | this study (95% bootstrap interval) | paper v1, MS MARCO | paper v1, T2Ranking "
             "| v2, MS MARCO (third-party) |", "|---|---|---|---|---|---|"]
    for law in fitted_laws(fits):
        entry = fits["laws"].get(law, {})
        if "params" not in entry:
            lines.append(f"| {law} | — | {entry.get('status', 'not fitted')} | | | |")
            continue
        ceiling = [("R² reachable (seed spread)", entry["r2_ceiling"])] if entry.get("r2_ceiling") is not None else []
        for name, value in list(entry["params"].items()) + [("r2", entry["r2"])] + ceiling:
            interval = entry["intervals"].get(name) if name in entry["params"] else None
            ours = fmt(value) + (f" [{fmt(interval[0])}, {fmt(interval[1])}]" if interval else "")
            paper = [(reported.get(ds, {}).get(law, {}) or {}).get(ver, {}) or {}
                     for ds, ver in (("msmarco", "v1"), ("t2ranking", "v1"), ("msmarco", "v2"))]
            lines.append(f"| {law} | {name} | {ours} | " + " | ".join(fmt(paper_value(p, name)) for p in paper) + " |")
    return lines


def law_checks(fits: dict) -> list[str]:
    """Each law's verdicts, read off fits.json (older files without a check show a dash): lack of
    fit against the per-size means, the held-out points against "no further improvement", which
    parameters the points do not determine and the slope they do, and what the bootstrap resampled."""
    lines = ["| law | R² (reachable) | lack of fit (1%) | held out: mean error, naive's, verdict | not determined "
             "| determined: local slope [95%] | bootstrap |", "|---|---|---|---|---|---|---|"]
    for law in fitted_laws(fits):
        e = fits["laws"].get(law, {})
        if "params" not in e:
            continue
        lof = e.get("lack_of_fit") or {}
        if lof.get("p_value") is None:
            lof_cell = lof.get("status", "—")
        else:
            lof_cell = (f"{'rejected' if lof['p_value'] < 0.01 else 'not rejected'} (F {lof['F']:.3g}, "
                        f"p {lof['p_value']:.2g})")
        h = e.get("holdout") or {}
        if h.get("skill") is None:
            held = "—"
        else:
            held = (f"{100 * h['mean_abs_relative_error']:.2f}%, {100 * h['naive_mean_abs_relative_error']:.2f}%: "
                    f"{'extrapolates' if h['extrapolates'] else 'does not extrapolate'} (skill {h['skill']:.2f})")
        ident = e.get("identifiability") or {}
        slopes = "; ".join(f"d log L/d log {s['input']} {s['slope']:.3g}"
                           + (f" [{s['interval'][0]:.3g}, {s['interval'][1]:.3g}]" if s.get("interval") else "")
                           for s in ident.get("local_slopes", []))
        b = e.get("bootstrap") or {}
        boot = f"{b.get('resample', 'points')} ({b.get('n_units', '?')} {b.get('unit', 'point')}s)"
        ceiling = e.get("r2_ceiling")
        lines.append(f"| {law} | {e['r2']:.3f}" + (f" ({ceiling:.3f})" if ceiling is not None else "")
                     + f" | {lof_cell} | {held} | {', '.join(ident.get('not_determined', [])) or ('none' if ident else '—')}"
                     f" | {slopes or '—'} | {boot} |")
    return lines


SIZE_NAMES = {"n_params": "N", "n_train": "D"}


def size_text(sizes: dict) -> str:
    """{'n_params': 38048.0, 'n_train': 5000.0} as N = 38,048, D = 5,000."""
    return ", ".join(f"{SIZE_NAMES.get(k, k)} = {v:,.0f}" for k, v in sizes.items())


def readable_sizes(text: str) -> str:
    """``text`` with each size dict of the verdicts written by :func:`size_text`."""
    def one(match):
        try:
            sizes = ast.literal_eval(match.group(0))
        except (ValueError, SyntaxError):
            return match.group(0)
        return size_text(sizes) if isinstance(sizes, dict) else match.group(0)
    return re.sub(r"\{[^{}]*\}", one, text)


def confirmation_section(registered: dict, fits: dict, results: pd.DataFrame) -> list[str]:
    """The primary run's pre-registered predictions against this confirmation run, law by law,
    with the verdict of drscaling.preregistration.verdicts and its reasons."""
    found = verdicts(registered, fits, results)
    lines = ["", f"**Pre-registered confirmation** of the `{registered['primary']}` run (predictions committed at "
                 f"{registered['analysis_commit'][:7]}, `preregistration/{registered['confirm']}.md`; criteria there):",
             "", "| law | exponent: primary [95%] -> this run [95%] | held out: predicted -> observed | verdict |",
             "|---|---|---|---|"]
    for law, v in found.items():
        pred, rec = registered["laws"][law], fits["laws"].get(law, {})
        exps = "; ".join(f"{k} {e['primary']:.3g} [{e['interval'][0]:.3g}, {e['interval'][1]:.3g}] -> "
                         + (f"{rec['params'][k]:.3g} [{rec['intervals'][k][0]:.3g}, {rec['intervals'][k][1]:.3g}]"
                            if "params" in rec else "not fitted")
                         for k, e in pred.get("exponents", {}).items())
        held = "; ".join(readable_sizes(k[len("held out "):]) for k in v["checks"] if k.startswith("held out {"))
        verdict = ("no prediction" if v["confirmed"] is None else "**confirmed**" if v["confirmed"]
                   else "**not confirmed**: " + "; ".join(map(readable_sizes, v["reasons"])))
        lines.append(f"| {law} | {exps or '—'} | {held or '—'} | {verdict} |")
    return lines


def study_section(registered: dict, fits: dict) -> list[str]:
    """A study registered on criteria alone (no primary run): each law against
    drscaling.preregistration.STUDY_CRITERIA, with the verdict of study_verdicts."""
    found = study_verdicts(registered["laws"], fits)
    lines = ["", f"**Pre-registered** (criteria committed at {registered['analysis_commit'][:7]}, before the first "
                 f"run: `preregistration/{registered['study']}.md`): R² at least "
                 f"{registered['criteria']['r2_at_least']}, lack of fit not rejected at 1%, the law fitted without "
                 f"the largest N (largest D) predicts the runs there within "
                 f"{100 * registered['criteria']['held_out_within']:.0f}% and beats 'no further improvement'.",
             "", "| law | R² | lack of fit p | held out: predicted -> observed | skill | verdict |",
             "|---|---|---|---|---|---|"]
    for law, v in found.items():
        rec = fits["laws"].get(law, {})
        holdout = rec.get("holdout") or {}
        held = "; ".join(f"{size_text(h['inputs'])}: {h['predicted']:.3f} -> {h['observed']:.3f} "
                         f"({100 * h['error']:+.1f}%)" for h in held_out_sizes(holdout)) if "predicted" in holdout else "—"
        p_value = (rec.get("lack_of_fit") or {}).get("p_value")
        verdict = "**holds**" if v["holds"] else "**does not hold**: " + "; ".join(map(readable_sizes, v["reasons"]))
        lines.append(f"| {law} | {fmt(rec.get('r2'))} | {fmt(p_value, 2)} | {held} | {fmt(holdout.get('skill'), 2)} "
                     f"| {verdict} |")
    return lines


def exponents(fits: dict) -> dict:
    """law -> exponent -> [value, low, high] of fits.json's model-size, data-size and joint laws."""
    out = {}
    for law in LAWS:
        rec = fits["laws"].get(law, {})
        if "params" in rec:
            out[law] = {k: [rec["params"][k], *rec["intervals"].get(k, (None, None))]
                        for k in ("alpha", "beta") if k in rec["params"]}
    return out


def languages_table(english_name: str, english: dict | None, chinese_name: str, chinese: dict,
                    reported: dict) -> list[str]:
    """The exponents of the English and the Chinese study beside the paper's MS MARCO and
    T2Ranking ones (v1, configs/paper_reported.yaml), with a sentence on the direction."""
    if english is None:
        return ["", f"(No English exponents to compare: `reports/{english_name}/exponents.json` is written by "
                    f"`make report PROFILE={english_name}`.)"]

    def cell(v):
        return "—" if v is None else f"{fmt(v[0])} [{fmt(v[1])}, {fmt(v[2])}]"

    lines = ["", "**Two languages** (95% bootstrap intervals; the paper's v1 values, "
                 "`configs/paper_reported.yaml`):", "",
             f"| law | exponent | English: SQuAD (`{english_name}`) | Chinese: CMRC + DRCD (`{chinese_name}`) "
             f"| paper: MS MARCO | paper: T2Ranking |", "|---|---|---|---|---|---|"]
    larger, smaller, paper_pairs = [], [], []
    for law in LAWS:
        for k in ("alpha", "beta"):
            en, zh = english.get(law, {}).get(k), chinese.get(law, {}).get(k)
            if en is None and zh is None:
                continue
            paper = [paper_value(((reported.get(ds, {}).get(law) or {}).get("v1") or {}), k)
                     for ds in ("msmarco", "t2ranking")]
            lines.append(f"| {law} | {k} | {cell(en)} | {cell(zh)} | {fmt(paper[0])} | {fmt(paper[1])} |")
            if None not in paper:
                paper_pairs.append(f"{law} {k} {fmt(paper[1])} against {fmt(paper[0])}")
            if en is not None and zh is not None:
                disjoint = zh[1] is not None and en[2] is not None and (zh[1] > en[2] or zh[2] < en[1])
                (larger if zh[0] > en[0] else smaller).append(f"{law} {k}" + ("" if disjoint else " (intervals overlap)"))
    lines += ["", "Chinese above English: " + (", ".join(larger) or "none") + "; below: "
              + (", ".join(smaller) or "none") + ". The paper's T2Ranking exponents against its MS MARCO ones (v1): "
              + (", ".join(paper_pairs) or "none reported") + "."]
    return lines


SUMMARY_LINK = ("The whole report of this run (wall times, checkpoints, seed noise, every law's parameters, checks, "
                "the annotation study and figures), generated with this section: "
                "[reports/{name}/summary.md](reports/{name}/summary.md).")


def summarise(lines: list[str], name: str) -> str:
    """The whole report for ``reports/<name>/summary.md``, the figures' paths relative to it."""
    return f"# The `{name}` run\n\n" + "\n".join(lines).replace(f"](reports/{name}/", "](") + "\n"


def split_confirmation(lines: list[str], name: str, confirmation: list[str]) -> tuple[list[str], str]:
    """A confirmation run's README section (the generated header and runs line, then its
    verdicts and a link) and its whole report for ``reports/<name>/summary.md`` (``lines``, with
    the figures' paths relative to that folder). The README stays a newcomer's page (at most 300
    lines, tests/test_docs.py); the verdicts are what a reader comes for."""
    readme = [lines[0], "", lines[2], *confirmation, "", SUMMARY_LINK.format(name=name)]
    return readme, summarise(lines, name)


def annotation_section(out) -> list[str]:
    """Notebook 04's per-method laws and exchange rates (annotation.json and its tables)."""
    study = read_json(out / "annotation.json")
    runs = pd.read_csv(out / "tables" / "annotation_results.csv")
    shared = runs["run_id"].isin(pd.read_csv(out / "results.csv")["run_id"])  # trained by notebook 02
    own = runs[~shared]
    ok_runs = runs[runs["status"] == "ok"]
    kinds = {(rec.get("bootstrap") or {}).get("resample", "points") for rec in study["laws"].values() if "params" in rec}
    resampled = {"points": "points resampled", "draws": "whole draws resampled",
                 "residuals": "each seed's offset and each run's residual redrawn"}.get(
        kinds.pop() if len(kinds) == 1 else "", "mixed")
    lines = ["", f"**Annotation quality** (notebook 04; {runs['model'].iloc[0]} at D = "
             f"{', '.join(f'{d:,}' for d in study['n_train'])} per method; {len(runs)} runs, "
             f"{', '.join(f'{v} {k}' for k, v in runs['status'].value_counts().items())}; {int(shared.sum())} of "
             f"them are runs of notebook 02's sweeps, the other {len(own)} took {own['wall_seconds'].sum() / 60:.1f} "
             f"min in all (training {own['train_seconds'].sum() / 60:.1f}, evaluation "
             f"{own['eval_seconds'].sum() / 60:.1f}; sum of their result.json wall times); intervals from "
             f"{study['n_bootstrap']} bootstrap resamples of each method's runs ({resampled}), "
             f"{len(ok_runs) // max(1, len(study['methods']))} "
             f"points a method ({ok_runs['seed'].nunique()} seeds), see the notebook):", "",
             "| method | B | beta | delta | R² | test CLL at the largest D (mean of seeds) |", "|---|---|---|---|---|---|"]
    largest = ok_runs[ok_runs["n_train"] == ok_runs["n_train"].max()].groupby("annotation")["cll_test"].mean()
    for label in [m["label"] for m in study["methods"]]:
        entry = study["laws"].get(label, {"status": "no run finished with status ok"})
        if "params" not in entry:
            lines.append(f"| {label} | {entry.get('status')} | | | | |")
            continue
        cells = [f"{fmt(entry['params'][k])} [{fmt(entry['intervals'][k][0])}, {fmt(entry['intervals'][k][1])}]"
                 for k in ("B", "beta", "delta")]
        lines.append(f"| {label} | {' | '.join(cells)} | {entry['r2']:.3f} | {fmt(largest.get(label))} |")
    for label, why in study.get("skipped", {}).items():
        lines.append(f"| {label} | skipped: {why} | | | | |")
    if {"best_check", "checks"} <= set(ok_runs):
        last = ok_runs[ok_runs["best_check"] == ok_runs["checks"]]
        by = last.groupby("annotation").size()
        lines += ["", f"Runs whose best check was their last (still improving when their passes ended): {len(last)} of "
                      f"{len(ok_runs)}" + (" (" + ", ".join(f"{k} {v}" for k, v in by.items()) + ")" if len(by) else "")
                  + "."]
    rates = study.get("exchange_rates") or []
    if rates:
        lines += exchange_rate_table(rates)
    return lines


def exchange_rate_table(rates: list[dict]) -> list[str]:
    """One row per method: its rate at each human D, measured where its runs reach that loss,
    else the reason there is none (its runs stop short of it, or its floor lies above it)."""
    def num(v):
        return "out of reach" if v is None or v == float("inf") else f"{v:.3g}"

    refs = sorted({r["reference_n_train"] for r in rates})
    lines = ["", "Exchange rates: pairs of the method worth one human pair, at the loss human pairs reach with D "
                 "pairs (95% interval). *Beyond its runs*: the method's runs stop short of that loss (its largest run "
                 "is worth the human pairs in the second column), so the rate would rest on its law extrapolated; "
                 "the law's value is in brackets after it. *Out of reach*: the method's floor lies above that loss.",
             "", "| method | its largest run, in human pairs | " + " | ".join(f"D = {d:,}" for d in refs) + " |",
             "|---|---|" + "---|" * len(refs)]
    within = []
    for method in dict.fromkeys(r["method"] for r in rates):
        rows = {r["reference_n_train"]: r for r in rates if r["method"] == method}
        cells = []
        for d in refs:
            r = rows.get(d)
            if r is None:
                cells.append("")
                continue
            status = r["status"]  # drscaling.annotation.study.exchange_rates decides it
            if status == "within its runs":
                cells.append(f"{num(r['rate'])} [{num(r['rate_low'])}, {num(r['rate_high'])}]")
                within.append(r)
            elif status == "out of reach":
                cells.append("out of reach (floor)")
            elif status == "below its runs":
                cells.append(f"below its runs ({num(r['rate'])} [{num(r['rate_low'])}, {num(r['rate_high'])}])")
            else:
                cells.append(f"beyond its runs ({num(r['rate'])} [{num(r['rate_low'])}, {num(r['rate_high'])}])")
        reach = next(iter(rows.values())).get("reach_n_train")
        lines.append(f"| {method} | {'' if reach is None else f'{reach:,.0f}'} | " + " | ".join(cells) + " |")
    inside = [r for r in within if r["rate_low"] is not None and r["rate_high"] is not None
              and 0.1 <= r["rate_low"] and r["rate_high"] <= 100]
    lines += ["", f"{len(inside)} of the {len(within)} rates within the methods' runs have their 95% interval inside "
                  f"[0.1, 100]."]
    return lines


def checks_and_noise(results: pd.DataFrame) -> list[str]:
    """Where each run's kept checkpoint lies among its periodic checks, and the seed-to-seed
    spread of test CLL over the points trained with more than one seed."""
    lines = []
    ok = results[results["status"] == "ok"]
    if "best_check" in ok and ok["best_check"].notna().any():
        known = ok[ok["best_check"].notna()]
        first = known[known["best_check"] == 1]
        last = known[known["best_check"] == known["checks"]]
        lines.append(
            f"**Kept checkpoints:** the best periodic validation check of {len(known)} runs came after "
            f"{known['best_pass'].min():.2f}–{known['best_pass'].max():.2f} passes over D (median "
            f"{known['best_pass'].median():.2f}); it was the run's first check in {len(first)} and its last in "
            f"{len(last)}" + (f" ({', '.join(last['run_id'].str.rsplit('-', n=1).str[0])})" if len(last) else "")
            + ". A last-check best is a run that was still improving when its budget ended.")
    point = ["annotation", "model", "n_train"]
    spread = ok.groupby(point)["cll_test"].agg(["std", "count", "min", "max"])
    spread = spread[spread["count"] > 1]
    if len(spread):
        lines.append(
            f"**Seed-to-seed noise:** {len(spread)} points trained with {int(spread['count'].min())}–"
            f"{int(spread['count'].max())} seeds; the standard deviation of test CLL across seeds is "
            f"{spread['std'].median():.3f} at the median point ({spread['std'].min():.3f}–{spread['std'].max():.3f}); "
            f"the largest range between seeds is {(spread['max'] - spread['min']).max():.3f}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    out = profile.outputs_dir
    fits = read_json(out / "fits.json")
    results = pd.read_csv(out / "results.csv")
    target = paths.ROOT / "reports" / profile.name
    target.mkdir(parents=True, exist_ok=True)
    shown = []
    for name in FIGURES:
        if (out / "figures" / name).is_file():
            shutil.copyfile(out / "figures" / name, target / name)
            shown.append(name)

    counts = results["status"].value_counts().to_dict()
    times = [
        "**Wall time per stage** (the last `make reproduce` on this 2-core machine; it skips finished "
        "training runs, so the grid's own cost is the sum below):",
        "",
        *stage_times(out),
        "",
        f"The grid's {len(results)} runs took {results['wall_seconds'].sum() / 60:.1f} min in all "
        f"(sum of the wall times recorded in their result.json: training "
        f"{results['train_seconds'].sum() / 60:.1f} min, evaluation {results['eval_seconds'].sum() / 60:.1f} min).",
        "",
    ]
    lines = [
        f"Generated by `make report PROFILE={profile.name}` from `outputs/{profile.name}/` "
        f"(results.csv, fits.json, the executed notebooks); do not edit by hand.",
        "",
        f"**Runs:** {len(results)} ({', '.join(f'{v} {k}' for k, v in counts.items())}); test CLL from "
        f"{results['cll_test'].min():.3f} to {results['cll_test'].max():.3f} (chance: log 257 = 5.55). "
        f"Training time per run {results['train_seconds'].min():.0f}–{results['train_seconds'].max():.0f} s.",
        "",
        *[line for item in checks_and_noise(results) for line in (item, "")],
        "**Fitted laws** (Huber loss in log space; intervals from 1000 bootstrap resamples of the runs; the "
        "paper's values from `configs/paper_reported.yaml`, which gives each one's source; — = not found):",
        "",
        *laws_table(fits, paper_reported()),
        "",
        *(["`data_size_transfer` and `joint_transfer` are the data-size and joint laws in the transfer form of "
           "Hernandez et al. 2021, L(D) = (B/(D + D_T))^beta + delta and L(N, D) = ((A/N)^(alpha/beta) + "
           "B/(D + D_T))^beta + delta, each fitted to the same points as the paper's form: D_T is what the "
           "models' pretraining is worth in human pairs. The paper has no such law.", ""]
          if any(law in fits["laws"] for law in TRANSFERS) else []),
    ]
    lines += ["", "**Checks of each law** (from fits.json):", "", *law_checks(fits), ""]
    for law in fitted_laws(fits):
        entry = fits["laws"].get(law, {})
        h = entry.get("holdout")
        if h:
            errors = ", ".join(f"{100 * e:+.1f}%" for e in h["relative_error"])
            lines.append(f"- {law}: fitted without the {len(h['relative_error'])} point(s) at the largest "
                         f"{'D' if law.startswith('data_size') else 'N'}, the law predicts them with relative error "
                         f"{errors}.")
        for w in entry.get("warnings", []):
            lines.append(f"- {law}: warning: {w}")
    corr = out / "tables" / "ranking_vs_cll.csv"
    if corr.is_file():
        c = pd.read_csv(corr)
        lines += ["", "**Ranking metrics against CLL** (paper Figure 2): " + "; ".join(
            f"{r.metric} Pearson {r.pearson:.3f}, Spearman {r.spearman:.3f}" for r in c.itertuples()) + "."]
    annotation = []
    if (out / "annotation.json").is_file():
        if read_json(out / "annotation.json").get("study", True):
            annotation = annotation_section(out)
        else:
            annotation = ["", f"**Annotation quality:** {read_json(out / 'annotation.json')['reason']}."]
    own_exponents = exponents(fits)
    write_json(target / "exponents.json", own_exponents)  # what another profile's report compares with
    registration = paths.ROOT / "preregistration" / f"{profile.name}.json"
    registered = read_json(registration) if registration.is_file() else None
    if registered is None:
        section = []
    elif registered.get("kind") == "study":
        english = paths.ROOT / "reports" / registered["compare_with"] / "exponents.json"
        section = study_section(registered, fits) + languages_table(
            registered["compare_with"], read_json(english) if english.is_file() else None, profile.name,
            own_exponents, paper_reported())
    else:
        section = confirmation_section(registered, fits, results)
    figures = [""] + [f"![{n[:-4]}](reports/{profile.name}/{n})" for n in shown]
    whole = lines[:4] + times + lines[4:] + annotation + section + figures
    if registered is not None:
        lines, summary = split_confirmation(whole, profile.name, section)
    else:  # the README keeps the laws, their checks and figures; wall times and notebook 04 go to the summary
        lines, summary = lines + ["", SUMMARY_LINK.format(name=profile.name)] + figures, summarise(whole, profile.name)
    write_text(target / "summary.md", summary)

    readme = paths.ROOT / "README.md"
    text = readme.read_text()
    start, end = f"<!-- report:{profile.name}:start -->", f"<!-- report:{profile.name}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} ... {end} section to fill")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text(readme, head + start + "\n" + "\n".join(lines) + "\n" + end + tail)
    print(f"README.md: {profile.name} section regenerated; figures in {target}")


if __name__ == "__main__":
    main()
