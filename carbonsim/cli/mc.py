"""The ``carbonsim mc`` command."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..model import uncertain as unc
from ..model.errors import Problem, ScenarioError
from ..results.jsonout import dumps
from ..studies.execution import Checkpoint, StudyInterrupted
from .output import write_file
from ..studies.montecarlo import monte_carlo
from ..studies.reweight import DEFAULT_SAMPLES
from .progress import ProgressBar

# Command line: ``carbonsim mc``
# ---------------------------------------------------------------------------


def add_mc_command(sub) -> None:
    """Register ``carbonsim mc`` on the CLI's subparsers."""
    import argparse
    p = sub.add_parser("mc", help="Monte Carlo over a scenario's uncertain inputs (distributions), with "
                                  "Sobol' sensitivity", description="Sample the uncertain inputs of a scenario "
                       "(values given as {dist = ...}; docs/uncertainty.md) and report mean, median, percentiles "
                       "and standard error of total CO2e and energy, per total, phase and workload.",
                       epilog="examples:\n  carbonsim mc scenarios/uncertainty-gpt3.toml --sensitivity\n"
                              "  carbonsim mc scenarios/uncertainty-lifecycle.toml -n 4096 --format markdown\n"
                              "  carbonsim mc FILE --sensitivity --plot figures/ --workers 4",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="scenario TOML file with uncertain inputs")
    p.add_argument("-n", "--samples", type=int, help=f"samples (default: the file's [uncertainty] samples, "
                                                     f"else {DEFAULT_SAMPLES})")
    p.add_argument("--method", choices=unc.METHODS, help="sampling design (default sobol: scrambled Sobol')")
    p.add_argument("--seed", type=int, help="seed of every draw (default: the file's [uncertainty] seed, else "
                                            "scenario.seed)")
    p.add_argument("--percentiles", help="comma-separated percentiles to report (default 5,95)")
    p.add_argument("--sensitivity", action="store_true", help="Sobol' indices (S1, ST with bootstrap intervals) "
                                                               "and a tornado of total CO2e, ranked")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the index intervals")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local processes for engine re-runs (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786 "
                                                         '(pip install "carbonsim[dask]")')
    g.add_argument("--dask", choices=["local"], help="run on a local Dask cluster of --workers processes")
    p.add_argument("--checkpoint", help="checkpoint file (default: FILE-STEM.mc-checkpoint.npz in the current "
                                        "directory; removed when the study completes)")
    p.add_argument("--checkpoint-every", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--resume", action="store_true", help="continue an interrupted study from its checkpoint")
    p.add_argument("--vary-seed", action="store_true", help="a scenario seed per sample: Poisson arrivals, job "
                                                            "sizes and other seeded draws vary too")
    p.add_argument("--format", choices=["table", "json", "markdown", "latex"], default="table")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--plot", metavar="DIR", help="write total_co2e (histogram, CDF, labelled percentiles) and "
                                                 "tornado (named inputs) as PNG and SVG (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    p.add_argument("--engine", choices=["auto", "compiled", "simpy"],
                     help="fleet engine (default: the file's [scenario] engine, else auto: the compiled core "
                          "whenever it can run the scenario; results are the same)")
    p.set_defaults(func=_cmd_mc)


def _cmd_mc(args) -> int:
    percentiles = None
    if args.percentiles:
        try:
            percentiles = [float(x) for x in args.percentiles.split(",") if x.strip()]
        except ValueError:
            raise ScenarioError([Problem("--percentiles", "must be comma-separated numbers", args.percentiles)])
    for flag, value, low in (("--samples", args.samples, 2), ("--workers", args.workers, 1),
                             ("--bootstrap", args.bootstrap, 10)):
        if value is not None and value < low:
            raise ScenarioError([Problem(flag, f"must be at least {low}", value)])
    checkpoint = args.checkpoint or f"{Path(args.file).stem}.mc-checkpoint.npz"
    notes: list[str] = []
    try:
        result = monte_carlo(args.file, samples=args.samples, method=args.method, seed=args.seed,
                             percentiles=percentiles, sensitivity=args.sensitivity, bootstrap=args.bootstrap,
                             workers=args.workers, scheduler=args.scheduler, dask=args.dask, checkpoint=checkpoint,
                             resume=args.resume, checkpoint_every=args.checkpoint_every, vary_seed=args.vary_seed,
                             progress=ProgressBar(enabled=False if args.no_progress else None), notes=notes,
                             engine=args.engine, keep_checkpoint=True)
    except StudyInterrupted as err:
        print(f"carbonsim mc: {err}", file=sys.stderr)
        return 130
    finally:
        for note in notes:
            print(f"carbonsim mc: {note}", file=sys.stderr)
    if args.format == "json":
        text = dumps({**result.nominal.to_dict(), "uncertainty": result.to_dict()}, indent=2)
    else:
        text = result.format_table("text" if args.format == "table" else args.format)
        if args.format != "table":
            for w in result.warnings:
                print(f"carbonsim mc: warning: {w}", file=sys.stderr)
    if args.output:
        try:
            write_file(args.output, text + "\n")
        except ScenarioError as err:     # the study is kept: say how to write it without re-running
            raise ScenarioError([Problem(q.path, q.rule + f"; the study's results are kept in {checkpoint}",
                                         q.value, fix="run the same command with --resume and another -o")
                                 for q in err.problems]) from None
    else:
        print(text)
    Checkpoint.discard(checkpoint)      # the results are out: the checkpoint has done its work
    if args.plot:
        for path in result.plot(args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0
