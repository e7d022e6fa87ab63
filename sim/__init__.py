"""Simulation suite (installed as ``lnn_control.sim``): MuJoCo models, Gymnasium envs, experts.

Importing this package is light: it only sets ``MUJOCO_GL=egl`` (offscreen rendering without a
display) unless the environment already chose a backend. Envs register with Gymnasium when
:mod:`lnn_control.sim.envs` is imported::

    import gymnasium as gym
    import lnn_control.sim.envs  # registers lnn_control/QuadHover-v0, QuadTarget-v0, ArmReach-v0
    env = gym.make("lnn_control/QuadHover-v0", scenario="nominal")

Modules, one concept each: ``mjcf`` (scene files, MuJoCo warnings), ``rendering`` (offscreen
renderers, headless), ``scenarios`` (domain randomisation from ``config/sim/*.yaml``), ``timing``
(per-stream rate, jitter, latency, dropout), ``imu`` (IMU noise and bias), ``streams`` (timed
sensor streams of an env), ``events`` (a step's sensor events, feeding a controller),
``quadrotor`` (Crazyflie parameters, rate controller, wind), ``arm`` (joint-target actions),
``envs`` (the registered Gymnasium envs, the batched QuadHover on ``mujoco.batch`` among them),
``experts`` (privileged controllers), ``rollout`` (run a controller in an env), ``view`` and
``cli`` (``lnn-control sim view`` / ``eval``), ``errors``.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
