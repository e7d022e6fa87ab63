"""The closed loop as on a robot: ``sim_node``, ``policy_node`` and ``bag_recorder`` as three
processes talking over DDS (on loopback, in a domain of their own), for a number of episodes.

The simulator waits until the policy node and the recorder listen to every topic it publishes,
then flies ``episodes`` episodes on simulated time (``/clock``, real-time factor 1); the recorder
writes every sensor message, the goal, the ground truth, the commands and the episode summaries
(``/sim/episode``) to a bag, stamped with the wall clock at which it received them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from lnn_control.errors import LnnControlError
from lnn_control.policy.deployment import load_deployment, load_node_parameters
from lnn_control.ros.processes import NodeProcess, local_environment, wait_for
from lnn_control.sim.parameters import SimParameters

__all__ = ["ClosedLoop", "EPISODE_TOPIC", "fly"]

#: where sim_node publishes each episode's summary (JSON in a std_msgs/String)
EPISODE_TOPIC = "/sim/episode:std_msgs/msg/String"
#: wall-clock seconds an episode may take before the run is declared stuck (at real-time factor 1)
EPISODE_TIMEOUT_S = 60.0


@dataclass
class ClosedLoop:
    """What :func:`fly` produced.

    :param bag: the recorded bag folder.
    :param logs: each node's log file, by node name.
    :param sim: the simulator's parameters (topics, env).
    """

    bag: Path
    logs: dict[str, Path]
    sim: SimParameters


def fly(
    checkpoint: str | os.PathLike[str],
    folder: Path,
    sim_params: Path,
    policy_params: Path,
    episodes: int,
    seed: int,
    engine: str,
    on_episode: Optional[Callable[[int], None]] = None,
) -> ClosedLoop:
    """Fly ``checkpoint`` for ``episodes`` episodes (seeds ``seed, seed + 1, ...``) through the
    ROS 2 nodes and record it into ``folder / "closed_loop_bag"``.

    :param folder: a new or empty folder for the bag and the node logs.
    :param on_episode: called with the number of finished episodes after each one.
    :raises LnnControlError: a node failed to start or exited with an error (its log is quoted).
    """
    sim: SimParameters = load_node_parameters(SimParameters, sim_params, "sim_node")
    output = load_deployment(policy_params).output
    topics = [f"{t.topic}:{t.type}" for t in sim.streams.values()]
    topics += [f"{output.topic}:{output.type}", EPISODE_TOPIC]
    # the simulator starts when the policy node and the recorder both listen to its sensor topics
    consumers = [f"{t.topic}:2" for name, t in sim.streams.items() if name != "ground_truth"]
    environment = local_environment(domain_base=40)
    bag, logs = folder / "closed_loop_bag", {name: folder / f"{name}.log"
                                             for name in ("policy_node", "bag_recorder", "sim_node")}
    nodes: dict[str, NodeProcess] = {}
    try:
        nodes["policy_node"] = NodeProcess(
            ["-m", "lnn_control.ros.policy_node", "--ros-args", "--params-file", str(policy_params),
             "-p", f"checkpoint:={checkpoint}", "-p", f"engine:={engine}", "-p", "autostart:=true",
             "-p", "use_sim_time:=true"], logs["policy_node"], environment)
        nodes["bag_recorder"] = NodeProcess(
            ["-m", "lnn_control.ros.recorder", "--ros-args", "-p", f"out:={bag}",
             "-p", f"topics:={topics}"], logs["bag_recorder"], environment)
        nodes["policy_node"].wait_for_log("configured", 120)
        nodes["bag_recorder"].wait_for_log("recording", 60)
        nodes["sim_node"] = NodeProcess(
            ["-m", "lnn_control.ros.sim_node", "--ros-args", "--params-file", str(sim_params),
             "-p", f"episodes:={episodes}", "-p", f"seed:={seed}",
             "-p", f"wait_for_subscribers:={consumers}"], logs["sim_node"], environment)
        finished = 0
        while finished < episodes:
            wait_for(lambda: _episodes_done(nodes["sim_node"]) > finished
                     or not all(n.alive() for n in nodes.values()), EPISODE_TIMEOUT_S + sim.start_timeout_s,
                     f"episode {finished} in {logs['sim_node']}")
            dead = [name for name, node in nodes.items() if not node.alive()]
            if dead:
                raise LnnControlError(f"{dead[0]} exited during the closed loop; its log "
                                      f"({logs[dead[0]]}):\n{nodes[dead[0]].output()[-3000:]}")
            finished = _episodes_done(nodes["sim_node"])
            if on_episode is not None:
                on_episode(finished)
    except (TimeoutError, RuntimeError) as error:
        raise LnnControlError(f"the closed loop did not run: {error}") from None
    finally:
        # the simulator first (no new messages), the recorder last (it sees the final commands)
        codes = {name: nodes[name].stop() for name in ("sim_node", "policy_node", "bag_recorder")
                 if name in nodes}
    failed = {name: code for name, code in codes.items() if code != 0}
    if failed:
        name = next(iter(failed))
        raise LnnControlError(f"{name} exited with code {failed[name]}; its log ({logs[name]}):\n"
                              f"{nodes[name].output()[-3000:]}")
    return ClosedLoop(bag, logs, sim)


def _episodes_done(node: NodeProcess) -> int:
    """Episodes the simulator has finished, from its log (``episode N: {...}``)."""
    return len(re.findall(r"\]: episode \d+: ", node.output()))
