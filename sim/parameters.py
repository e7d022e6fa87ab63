"""The simulated robot's topics: ``sim_node``'s parameters, also read by ``lnn-control record``.

A ``sim_node: ros__parameters:`` section of a ROS 2 parameter file (``config/ros/*_sim.yaml``):
which env runs, and which of its streams are published on which topic and message type, and
where the commands come from. Read with
``load_node_parameters(SimParameters, path, "sim_node")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lnn_control.policy.deployment import OutputTopic, StreamTopic
from lnn_control.sim.ids import env_id

__all__ = ["SimParameters"]


@dataclass
class SimParameters:
    """What to simulate and where its messages go."""

    #: env stream (observable or privileged) -> topic
    streams: dict[str, StreamTopic]
    #: the commands applied (the policy node's output settings)
    command: OutputTopic
    #: registered id or short name (``QuadHover-v0``); held as the registered id
    env: str = "lnn_control/QuadHover-v0"
    scenario: str = "nominal"
    seed: int = 0
    #: stop after this many episodes (0: never)
    episodes: int = 0
    #: simulated seconds per wall-clock second
    real_time_factor: float = 1.0
    image_size: int = 64
    #: frame of the world (odometry's header; its child frame is base_link)
    frame_id: str = "world"
    #: wall-clock seconds to wait before the first episode, so that subscribers have
    #: discovered the publishers and none misses the first messages
    start_delay_s: float = 1.0
    #: also wait until these topics have this many matched subscribers (``"/imu/data:2"``), so
    #: that every consumer (a policy node, a recorder) sees the episode from its first message;
    #: give up and start anyway after ``start_timeout_s``
    wait_for_subscribers: list[str] = field(default_factory=list)
    start_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.env = env_id(self.env)
