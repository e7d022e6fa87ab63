"""``lnn-control record``: simulated episodes written as a ROS 2 bag, as the robot's topics.

Runs an env in closed loop with the expert or a checkpoint (through :class:`PolicyRuntime`, as
on the robot) and writes what ``sim_node`` and ``policy_node`` would publish: every sensor message
with its stamp, the privileged ground truth and goal, and the commands, on the topics and message
types of the env's ``sim_node`` parameter file (``config/ros/<env>_sim.yaml``). A message's log
time is the end of the control period that delivered it (plus its position in that batch, in
nanoseconds): the order the controller received them in, as ``sim_node`` publishes them, so
``lnn-control replay --arrival-order`` reproduces the recorded commands. Episodes follow each
other on one monotonic clock, 2 s apart. MCAP by default, sqlite3 by option; never over an existing bag.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.resources import config_path
from lnn_control.policy.events import Controller
from lnn_control.sim.ids import SHORT_NAMES, env_id as resolve_env_id
from lnn_control.sim.parameters import SimParameters

__all__ = ["add_arguments", "record"]

#: env id -> its sim_node parameter file in config/ros
SIM_PARAMETERS = {
    "lnn_control/QuadHover-v0": "quad_hover_sim.yaml",
    "lnn_control/QuadTarget-v0": "quad_target_sim.yaml",
    "lnn_control/ArmReach-v0": "arm_reach_sim.yaml",
}


#: time between episodes on the recording's clock: longer than any policy's reset_gap_s, so a
#: recorded policy's network starts each episode afresh through the gap rule, as in replay
EPISODE_GAP_NS = 2_000_000_000


class _Recorded:
    """A controller whose physical commands are kept.

    A policy runtime is not reset between episodes: it sees the recording's clock (each episode's
    stamps plus ``offset_ns``), one continuous stream as a replay sees it, and the gap between
    episodes resets its network state.
    """

    def __init__(self, controller: Controller, runtime: Optional[Any]) -> None:
        self.controller, self.runtime = controller, runtime
        #: (stamp of the command message, control instant it was applied at, command), recording clock
        self.commands: list[tuple[int, int, np.ndarray]] = []
        #: the recording's clock at the start of the current episode, ns
        self.offset_ns = 0

    def reset(self) -> None:
        if self.runtime is None:
            self.controller.reset()

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        self.controller.on_event(stream, self.offset_ns + stamp_ns, value)

    def command(self, stamp_ns: int) -> np.ndarray:
        now = self.offset_ns + stamp_ns
        command = self.controller.command(now)
        sensed = self.runtime.last_step_ns if self.runtime is not None else None
        # before the episode's first step the command (safe) is stamped with its instant
        self.commands.append((now if sensed is None or sensed < self.offset_ns else sensed, now, command))
        return command


def record(
    env_id: str,
    out: str | os.PathLike[str],
    episodes: int,
    checkpoint: Optional[str] = None,
    scenario: str = "nominal",
    seed: int = 0,
    storage: str = "mcap",
    params: Optional[str | os.PathLike[str]] = None,
    engine: str = "torch",
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``episodes`` seeded episodes and write them to the new bag folder ``out``.

    :param env_id: registered id or short name (``QuadHover-v0``).
    :param checkpoint: the policy to fly; ``None`` flies the env's expert.
    :param params: the ``sim_node`` parameter file (default: the env's in ``config/ros``).
    :return: a summary: path, messages per topic, episode results.
    """
    import gymnasium
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    import lnn_control.sim.envs  # noqa: F401 - registers the envs
    from lnn_control.bags.typed import build_message
    from lnn_control.bags.writer import STORAGES
    from lnn_control.policy.deployment import load_node_parameters
    from lnn_control.policy.messages.building import stream_message
    from lnn_control.policy.messages.commands import CommandMessages
    from lnn_control.sim.rollout import run_episode

    env_id = resolve_env_id(env_id)
    target = Path(out)
    if target.exists():
        raise ConfigError(f"{target} exists; record never writes over a bag (choose a new path)")
    if storage not in STORAGES:
        raise ConfigError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
    sim: SimParameters = load_node_parameters(SimParameters, params or _default_params(env_id),
                                              "sim_node")
    offered = gymnasium.envs.registration.load_env_creator(gymnasium.spec(env_id).entry_point).STREAMS
    env = gymnasium.make(env_id, scenario=scenario, image_size=sim.image_size,
                         streams=[n for n in sim.streams if not offered[n].privileged])
    robot: Any = env.unwrapped
    spec = robot.action_spec()
    controller, runtime, names = _controller(env_id, spec, checkpoint, engine)
    recorded = _Recorded(controller, runtime)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    counts: dict[str, int] = {}
    results = []
    with Writer(target, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage]) as writer:
        connections = {name: writer.add_connection(t.topic, t.type, typestore=typestore)
                       for name, t in sim.streams.items()}
        command_out = writer.add_connection(sim.command.topic, sim.command.type, typestore=typestore)

        def write(connection: Any, topic: str, msgtype: str, data: dict[str, Any], log: int) -> None:
            writer.write(connection, log, typestore.serialize_cdr(build_message(typestore, msgtype, data), msgtype))
            counts[topic] = counts.get(topic, 0) + 1

        def on_step(_: Any, __: Any, info: dict[str, Any]) -> None:
            now = recorded.offset_ns + robot.now_ns
            for index, event in enumerate((*info["sensor_events"], *info["privileged_events"])):
                topic = sim.streams.get(event.stream)
                if topic is None:
                    continue
                data = stream_message(offered[event.stream].kind, topic.type, event.value,
                                      recorded.offset_ns + event.stamp_ns, sim.frame_id, topic.joint_names)
                write(connections[event.stream], topic.topic, topic.type, data, now + index)

        from rich.progress import track

        seeds = range(seed, seed + episodes)
        command_messages = CommandMessages(sim.command.type, names, "base_link", sim.command.joint_names,
                                           sim.command.twist_fields)
        for episode in (track(seeds, description=f"recording {env_id}") if progress else seeds):
            recorded.commands.clear()
            result = run_episode(env, recorded, episode, privileged=runtime is None, on_step=on_step)
            for stamp, applied, command in recorded.commands:
                data = command_messages.build(command, stamp)
                # logged after the inputs of the control period it was computed in (+ 1 ms)
                write(command_out, sim.command.topic, sim.command.type, data, applied + 1_000_000)
            results.append({"seed": episode, "success": result.success,
                            "final_distance_m": result.final_distance, "steps": result.steps})
            recorded.offset_ns += robot.now_ns + EPISODE_GAP_NS
    env.close()
    return {"path": str(target), "storage": storage, "messages": counts, "episodes": results}


def _controller(env_id: str, spec: Any, checkpoint: Optional[str],
                engine: str) -> tuple[Controller, Optional[Any], list[str]]:
    """(controller with physical commands, its PolicyRuntime if a checkpoint, action names)."""
    if checkpoint is not None:
        from lnn_control.policy import PolicyRuntime, load_checkpoint

        policy = load_checkpoint(checkpoint)
        runtime = PolicyRuntime(policy, engine)  # type: ignore[arg-type]
        return runtime, runtime, policy.config.actions.names
    from lnn_control.sim.experts import make_expert

    return make_expert(env_id), None, spec.names


def _default_params(env_id: str) -> Path:
    if env_id not in SIM_PARAMETERS:
        raise ConfigError(f"no sim_node parameter file for {env_id}; pass --params")
    return config_path(f"ros/{SIM_PARAMETERS[env_id]}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control record``."""
    parser.add_argument("--env", required=True,
                        help=f"env id, e.g. lnn_control/QuadHover-v0 (or just {', '.join(SHORT_NAMES)})")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--expert", action="store_true", help="fly the env's privileged expert")
    who.add_argument("--model", help="checkpoint folder of the policy to fly")
    parser.add_argument("--episodes", type=int, default=1)
    parser.add_argument("--out", required=True, help="new bag folder")
    parser.add_argument("--scenario", default="nominal")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--params", help="sim_node parameter file (topics and types)")
    parser.add_argument("--engine", choices=("torch", "onnx", "compiled"), default="torch")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    summary = record(args.env, args.out, args.episodes, args.model, args.scenario, args.seed,
                     args.storage, args.params, args.engine)
    successes = sum(e["success"] for e in summary["episodes"])
    print(f"wrote {summary['path']} ({summary['storage']}): {summary['messages']}; "
          f"{successes}/{len(summary['episodes'])} episodes successful")
    return 0
