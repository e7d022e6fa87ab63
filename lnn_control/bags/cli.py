"""``lnn-control replay BAG --model CKPT --params PARAMS.yaml --out DIR``."""

from __future__ import annotations

import argparse

from lnn_control.policy.engines import ENGINES

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control replay``."""
    parser.add_argument("bag", help="ROS 1 .bag file, ROS 2 bag folder, or its .db3 / .mcap file")
    parser.add_argument("--model", default=None,
                        help="checkpoint folder (default: the parameter file's 'checkpoint')")
    parser.add_argument("--params", required=True,
                        help="the policy node's ROS 2 parameter file (topics, types, output, "
                             "engine)")
    parser.add_argument("--out", required=True,
                        help="new folder for the report and the output bag (must not hold files)")
    parser.add_argument("--receive-time", action="store_true",
                        help="feed the bag's receive times instead of the messages' header.stamp")
    parser.add_argument("--arrival-order", action="store_true",
                        help="feed messages in the order they were received, as the live node "
                             "did (reproduces live commands when latencies differ by stream)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap",
                        help="storage of the output ROS 2 bag (default: mcap)")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="step engine (default: the parameter file's 'engine')")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lnn_control.bags.pipeline import replay_to_folder

    outcome = replay_to_folder(args.bag, args.params, args.out, args.model, args.receive_time,
                               args.storage, args.engine, progress=not args.quiet,
                               arrival_order=args.arrival_order)
    report = outcome.report
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    for stream, entry in report["streams"].items():
        timing = entry["timing"]
        lag = timing["lag_s"] or {}
        print(f"{stream} ({entry['topic']}): {timing['count']} messages, "
              f"{timing['rate_hz'] or 0:.2f} Hz, jitter {(timing['jitter_s'] or 0) * 1e6:.1f} us, "
              f"{timing['gaps']['count']} gaps, receive lag median "
              f"{(lag.get('median') or 0) * 1e3:.2f} ms")
    dropped = {reason: entry["count"] for reason, entry in report["rejections"].items()}
    print(f"{report['commands']['count']} commands; dropped: {dropped or 'none'}")
    print(f"wrote {outcome.folder}/report.md, report.json and {report['output_bag']['path']}")
    return 0
