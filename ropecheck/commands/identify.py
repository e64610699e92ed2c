"""``ropecheck identify``: the RoPE convention an unknown callable implements."""

from __future__ import annotations

import argparse
import signal
import sys

from ropecheck.commands._options import (
    EXIT_FAIL, EXIT_OK, UsageError, add_device, add_json, add_targets, add_timeout, callable_reference, check_cuda,
    check_outputs, check_timeout, positive_int, usage_errors)

NAME = "identify"
HELP = "infer the RoPE convention an unknown callable implements"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser, dest="target", nargs=None, metavar="module:attr",
                help="the callable (adapter signature); ./ is put on sys.path")
    add_json(parser, help="write the fitted convention as JSON to F")
    parser.add_argument("--head-dim", type=int, default=64, metavar="N", help="head_dim of the probe (default 64)")
    add_device(parser)
    parser.add_argument("--max-position", metavar="N",
                        help="never call the target with a position >= N (e.g. its table size); probes that "
                             "need more are skipped and named (default: probe up to 65536, verify to 100000)")
    add_timeout(parser, help="CPU seconds the probe may use (default 120)")
    parser.add_argument("--signature", choices=("x", "qk"), default="x",
                        help="the callable's form: rope(x, ...) or rope(q, k, ...) (identified from q's side)")
    parser.add_argument("--packed", action="store_true",
                        help="the callable takes packed (total_tokens, heads, head_dim) tensors and cu_seqlens=")


def run(args: argparse.Namespace) -> int:
    from ropecheck import engine
    from ropecheck.isolation import Interrupted, Stop
    from ropecheck.render.text import text_table
    from ropecheck.storage import atomic_write_json

    if args.head_dim < 2 or args.head_dim % 2:
        raise UsageError(f"--head-dim: expected an even number >= 2, got {args.head_dim}")
    max_position = positive_int("--max-position", args.max_position)
    check_timeout(args.timeout)
    check_outputs(json=args.json)
    check_cuda(args.device)
    target = callable_reference(args.target)
    stop = Stop()
    try:
        with stop.on_signals(), usage_errors():  # a callable that cannot be imported: one line
            found = engine.identify(target, args.head_dim, args.device, timeout=args.timeout, stop=stop,
                                    signature=args.signature, packed=args.packed, max_position=max_position)
    except Interrupted as stopped:
        print(f"ropecheck: identify interrupted by {signal.Signals(stopped.signum).name}", file=sys.stderr)
        return 128 + stopped.signum
    finally:
        stop.close()
    if found["rows"]:
        print(text_table(("field", "value"), found["rows"]))
    for note in found["notes"]:
        print(f"note: {note}")
    print(f"\n{found['message']}")
    if args.json:
        atomic_write_json(args.json, found["json"])
    return EXIT_OK if found["json"]["explained"] else EXIT_FAIL
