"""``lnn-control bench sim --json PATH``: how fast the simulation suite steps and renders.

References measured in the same run: the raw ``mj_step`` rate of the Crazyflie model (one
``MjData``, a Python loop, as ENVIRONMENT.md quotes), the raw 64x64 render rate of its camera and
the raw ``mujoco.batch`` physics rate; each env figure is reported with its ratio to its reference.

Targets (issue 5): QuadHover-v0 without camera >= 30,000 env steps/s (single env), >= 1,500
camera frames/s at 64x64, and the vectorised QuadHover >= 100,000 control steps/s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

__all__ = ["add_arguments"]

TARGETS = {"quad_hover_steps_per_s": 30_000.0, "camera_frames_per_s": 1_500.0, "vector_steps_per_s": 100_000.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench sim``."""
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a few thousand steps only (a smoke test)")
    parser.add_argument(
        "--num-envs", type=int, nargs="+", default=[256, 1024, 4096], help="batch sizes of the vectorised env"
    )
    parser.add_argument("--nthread", type=int, default=0, help="mujoco.batch threads (0: all CPUs)")
    parser.set_defaults(handler=run)


def _rate(fn: Callable[[], object], seconds: float, batch: int = 1) -> float:
    """Calls of ``fn`` per second (times ``batch``) over about ``seconds`` after a short warm-up."""
    for _ in range(3):
        fn()
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(16):
            fn()
        calls += 16
        now = time.perf_counter()
        if now >= deadline:
            return calls * batch / (now - start)


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import mujoco
    import mujoco.batch
    import numpy as np
    from rich.progress import Progress

    import lnn_control.sim.envs  # noqa: F401  (registers the envs)
    from lnn_control.bench.common import latency_us, machine_info, print_table, write_json
    from lnn_control.sim.mjcf import load_scene
    from lnn_control.sim.rendering import offscreen_renderer
    from lnn_control.sim.scenarios import Scenario, TimingRandomisation

    seconds = 0.3 if args.quick else 2.0
    calls = 2_000 if args.quick else 40_000
    results: dict[str, Any] = {}
    rows: list[list[object]] = []
    tasks = 7 + len(args.num_envs)

    with Progress(transient=True) as progress:
        task = progress.add_task("bench sim", total=tasks)

        def done(label: str) -> None:
            progress.update(task, advance=1, description=label)

        # -- references: raw MuJoCo on the Crazyflie scene
        hover = gym.make("lnn_control/QuadHover-v0")
        hover.reset(seed=0)  # writes the episode's drag into the model
        model = hover.unwrapped.model
        data = mujoco.MjData(model)
        data.qpos[2] = 1.0
        data.ctrl[:] = hover.unwrapped.controller.motor_commands(hover.unwrapped.controller.hover_action, np.zeros(3))
        data.act[:] = data.ctrl
        raw_step = _rate(lambda: mujoco.mj_step(model, data), seconds)
        substeps = hover.unwrapped._substeps
        results["raw_mj_step_per_s"] = raw_step
        rows.append(["raw mj_step, Crazyflie (reference)", raw_step, "steps/s", None, 1.0])
        done("raw mj_step")

        # -- QuadHover-v0, single env, default streams (imu, odom, goal), no camera
        action = hover.unwrapped.controller.hover_action.astype(np.float32)

        def hover_step() -> None:
            _, _, terminated, truncated, _ = hover.step(action)
            if terminated or truncated:
                hover.reset()

        latency = latency_us(hover_step, calls)
        steps_per_s = 1e6 / latency["mean_us"]
        physics_share = steps_per_s * substeps / raw_step
        results["quad_hover"] = {**latency, "steps_per_s": steps_per_s, "substeps": substeps}
        rows.append(["QuadHover-v0 env steps (imu+odom+goal)", steps_per_s, "steps/s", TARGETS["quad_hover_steps_per_s"], physics_share])
        rows.append(["  per step: median / p99", f"{latency['median_us']:.1f} / {latency['p99_us']:.1f}", "us", None, None])
        hover.close()
        done("QuadHover-v0")

        # -- camera: raw 64x64 render of the forward camera, then through the env's camera stream
        renderer = offscreen_renderer(model, 64, 64)
        mujoco.mj_forward(model, data)
        frame = np.empty((64, 64, 3), np.uint8)

        def render() -> None:
            renderer.update_scene(data, camera="fpv")
            renderer.render(out=frame)

        raw_fps = _rate(render, seconds)
        renderer.close()
        results["raw_render_64_per_s"] = raw_fps
        rows.append(["raw 64x64 render, fpv camera (reference)", raw_fps, "frames/s", TARGETS["camera_frames_per_s"], 1.0])
        done("raw render")

        fast_camera = Scenario(name="camera_300hz", timing=TimingRandomisation(rate_scale=(10.0, 10.0)))
        camera_env = gym.make("lnn_control/QuadHover-v0", scenario=fast_camera, streams=("camera",))
        camera_env.reset(seed=0)
        frames = 0

        def camera_step() -> None:
            nonlocal frames
            _, _, terminated, truncated, info = camera_env.step(action)
            frames += len(info["sensor_events"])
            if terminated or truncated:
                camera_env.reset()

        start = time.perf_counter()
        steps = 300 if args.quick else 3_000
        for _ in range(steps):
            camera_step()
        env_fps = frames / (time.perf_counter() - start)
        camera_env.close()
        results["env_camera_frames_per_s"] = env_fps
        rows.append(["env camera stream at 300 Hz, frames delivered", env_fps, "frames/s", TARGETS["camera_frames_per_s"], env_fps / raw_fps])
        done("env camera")

        # -- QuadTarget-v0 (camera 30 Hz + IMU) and ArmReach-v0 (two cameras + joints), as shipped
        for env_id, key in (("lnn_control/QuadTarget-v0", "quad_target"), ("lnn_control/ArmReach-v0", "arm_reach")):
            env = gym.make(env_id)
            env.reset(seed=0)
            neutral = (
                env.unwrapped.controller.hover_action
                if key == "quad_target"
                else env.unwrapped.joint_targets.action(env.unwrapped.data.qpos)
            ).astype(np.float32)

            def env_step(env: gym.Env = env, neutral: np.ndarray = neutral) -> None:
                _, _, terminated, truncated, _ = env.step(neutral)
                if terminated or truncated:
                    env.reset()

            rate = _rate(env_step, seconds)
            env.close()
            results[f"{key}_steps_per_s"] = rate
            rows.append([f"{env_id} env steps (default streams)", rate, "steps/s", None, None])
            done(env_id)

        # -- vectorised QuadHover on mujoco.batch, against the raw batch physics of the same size
        results["vector"] = []
        for num_envs in args.num_envs:
            vector = gym.make_vec(
                "lnn_control/QuadHover-v0",
                num_envs=num_envs,
                vectorization_mode="vector_entry_point",
                nthread=args.nthread,
            )
            vector.reset(seed=0)
            actions = np.tile(action, (num_envs, 1))
            vector_rate = _rate(lambda: vector.step(actions), seconds, num_envs)
            raw_batch = mujoco.batch.Batch(load_scene("quadrotor"), nsim=num_envs, nthread=args.nthread)
            raw_batch.bind("ctrl")[:] = 0.44
            physics_rate = _rate(lambda: raw_batch.step(nstep=substeps), seconds, num_envs)
            vector.close()
            results["vector"].append(
                {"num_envs": num_envs, "steps_per_s": vector_rate, "raw_batch_control_steps_per_s": physics_rate}
            )
            rows.append([f"vector QuadHover, {num_envs} envs", vector_rate, "steps/s", TARGETS["vector_steps_per_s"], vector_rate / physics_rate])
            rows.append([f"  raw mujoco.batch physics, {num_envs} (reference)", physics_rate, "steps/s", None, 1.0])
            done(f"vector {num_envs}")
        done("finished")

    best_vector = max(entry["steps_per_s"] for entry in results["vector"])
    results["targets"] = TARGETS
    results["met"] = {
        "quad_hover_steps_per_s": steps_per_s >= TARGETS["quad_hover_steps_per_s"],
        "camera_frames_per_s": raw_fps >= TARGETS["camera_frames_per_s"],
        "vector_steps_per_s": best_vector >= TARGETS["vector_steps_per_s"],
    }
    results["machine"] = machine_info()
    results["mujoco"] = mujoco.__version__
    results["quick"] = bool(args.quick)
    print_table(
        "lnn-control bench sim (ratio: env rate over its reference's bound: raw mj_step / substeps, raw render, raw batch)",
        ["measurement", "value", "unit", "target", "ratio"],
        rows,
    )
    met = ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in results["met"].items())
    print(f"targets: {met}")
    if args.json:
        print(f"wrote {write_json(args.json, results)}")
    return 0
