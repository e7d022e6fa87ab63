"""RL with the liquid core (sb3-contrib RecurrentPPO): the RL policy's deterministic action is the
runtime's command on the same events, its state resets where an episode starts, fine-tuning
starts at exactly the checkpoint, the saved actor is the trained one, and both shipped configs
run end to end on a tiny budget (real MuJoCo envs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sb3_contrib.common.recurrent.type_aliases import RNNStates
import yaml
from helpers import HOVER, MODELS, ROOT, TARGET, make_policy, policy_config, short_env

from lnn_control.cli import main
from lnn_control.config import config_from_dict, merge, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.policy import PolicyConfig, load_checkpoint, save_checkpoint
from lnn_control.policy.config import model_data
from lnn_control.policy.runtime import PolicyRuntime
from lnn_control.sim.events import feed
from lnn_control.train.rl.config import load_rl_config
from lnn_control.train.rl.collection import BatchedStepsVecEnv
from lnn_control.train.rl.observation import NetworkStepsEnv, StepLayout
from lnn_control.train.rl.policy import LiquidActorCriticPolicy
from lnn_control.train.rl.run import RLRun

RL_CONFIGS = ROOT / "config" / "rl"


#: the baseline cores of config/compare/quad_hover.yaml, as model overrides
BASELINES = {"lstm": {"type": "lstm", "wiring": None, "units": 20},
             "mlp": {"type": "mlp", "wiring": None, "units": 24, "frames": 4}}


def _hover_config(core: str = "cfc", body: bool = False) -> PolicyConfig:
    """QuadHover's policy with ``core``; ``body``: its odometry and goal read in the body frame,
    as config/rl/quad_hover_scratch.yaml reads them."""
    model = "quad_hover_body_cfc.yaml" if body else "quad_hover_cfc.yaml"
    return config_from_dict(PolicyConfig, model_data(str(MODELS / model), {"core": BASELINES.get(core, {"type": core})}))


def _rl_policy(config: PolicyConfig, env: NetworkStepsEnv, use_sde: bool = False) -> LiquidActorCriticPolicy:
    return LiquidActorCriticPolicy(env.observation_space, env.action_space, lambda _: 1e-3, config, 1e-4,
                                   use_sde=use_sde)


def _tiny(name: str, folder: Path, **sections: Any) -> Path:
    """``config/rl/<name>.yaml`` on a tiny budget (sections merged over it), written to ``folder``."""
    data = yaml.safe_load((RL_CONFIGS / f"{name}.yaml").read_text())
    if "model" in data:
        data["model"] = str((RL_CONFIGS / data["model"]).resolve())
    tiny = {"envs": 1, "workers": 0, "total_steps": 200, "statistics_steps": 100,
            "ppo": {"n_steps": 100, "batch_size": 50, "n_epochs": 2}, "evaluation": {"episodes": 0}}
    data = merge(merge(data, tiny), sections)
    path = folder / f"{name}_tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _assert_acts_as_runtime(policy: LiquidActorCriticPolicy, checkpoint: Path, seed: int, steps: int = 150,
                            env_id: str = HOVER) -> None:
    """Fly ``policy``'s deterministic action in ``env_id``; at every control step it must equal the
    command of a runtime on ``checkpoint`` fed the same events (mapped to the env's action)."""
    runtime = PolicyRuntime(load_checkpoint(checkpoint))
    inner = short_env(env_id, steps)
    images = StepLayout(runtime.policy.config).images
    env = NetworkStepsEnv(inner, runtime.policy.config, 4, {name: runtime.policy.encoders[name] for name in images})
    observation, info = env.reset(seed=seed)
    runtime.reset()
    state, start, count = None, np.ones(1, dtype=bool), 0
    while True:
        feed(runtime, [event for event in info["sensor_events"] if event.stream in runtime.specs])
        # a privileged critic's columns (zero here) never reach the action
        padded = np.zeros(observation.shape[:-1] + (policy.layout.width,), np.float32)
        padded[..., : observation.shape[-1]] = observation
        action, state = policy.predict(padded, state, start, deterministic=True)
        command = inner.unwrapped.to_action(runtime.command(inner.unwrapped.now_ns))
        torch.testing.assert_close(action, command, atol=2e-6, rtol=0)
        observation, _, terminated, truncated, info = env.step(action)
        start, count = np.zeros(1, dtype=bool), count + 1
        if terminated or truncated:
            break
    assert count > 20


@pytest.mark.parametrize("core, use_sde, body", [("cfc", False, False), ("ltc", False, False), ("cfc", True, False),
                                                 ("lstm", False, False), ("mlp", False, False), ("cfc", False, True)])
def test_the_deterministic_action_is_the_runtimes_command(core: str, use_sde: bool, body: bool, tmp_path: Path) -> None:
    config = _hover_config(core, body)
    policy = make_policy(config, seed=3)
    save_checkpoint(policy, tmp_path / "policy")
    env = NetworkStepsEnv(short_env(HOVER, 10), config, 4)
    rl = _rl_policy(config, env, use_sde)
    rl.actor.load_state_dict(policy.state_dict())
    _assert_acts_as_runtime(rl, tmp_path / "policy", seed=11)


def test_a_camera_policy_acts_as_the_runtime_on_its_frozen_encoders_features(tmp_path: Path) -> None:
    """QuadTarget's CNN + CfC policy: the blocks carry the camera's features (each frame encoded
    once by the frozen encoder) and the deterministic action is the runtime's command, which
    encodes each frame itself."""
    config = policy_config("quad_target_cnn_cfc")
    policy = make_policy(config, seed=5)
    save_checkpoint(policy, tmp_path / "policy")
    env = NetworkStepsEnv(short_env(TARGET, 10), config, 4, {"camera": policy.encoders["camera"]})
    rl = _rl_policy(config, env)
    rl.actor.load_state_dict(policy.state_dict())
    assert env.observation_space.shape == (4, rl.layout.width) and rl.layout.images == ["camera"]
    _assert_acts_as_runtime(rl, tmp_path / "policy", seed=2, steps=60, env_id=TARGET)


def test_the_observation_holds_the_periods_network_steps() -> None:
    config = _hover_config()
    env = NetworkStepsEnv(short_env(HOVER, 50), config, 4)
    layout = env.layout
    first, _ = env.reset(seed=0)
    # at reset every stream reports at stamp 0, the IMU first: the network waits, the runtime
    # sends the safe command (the safe flag)
    assert not first[:, layout.valid].any() and (first[:, layout.safe] == 1).all()
    # period 1: the IMU message stamped 5 ms steps the network (from zero, over the nominal dt);
    # the one stamped 10 ms arrives 2 ms late, in period 2
    second, *_ = env.step(np.zeros(4, dtype=np.float32))
    assert second[:, layout.valid].tolist() == [1, 0, 0, 0] and second[0, layout.reset] == 1
    assert second[0, layout.dt] == np.float32(config.control.nominal_dt_s) and (second[:, layout.safe] == 0).all()
    third, _, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert third[:, layout.valid].tolist() == [1, 1, 0, 0] and not third[:, layout.reset].any()
    np.testing.assert_allclose(third[:2, layout.dt], 0.005, rtol=0.1)  # the IMU's real, jittered spacing
    imu = [e for e in info["sensor_events"] if e.stream == "imu"]
    np.testing.assert_array_equal(third[1, layout.streams["imu"]], np.float32(imu[-1].value))


def test_the_state_resets_where_an_episode_starts() -> None:
    """Two episodes in one sequence (as in RecurrentPPO's buffer), started from a non-zero state:
    the second episode's actions and states equal those of that episode run alone from zero."""
    config = _hover_config()
    env = NetworkStepsEnv(short_env(HOVER, 30), config, 4)
    rl = _rl_policy(config, env)
    torch.manual_seed(0)
    episodes = []
    for seed in (1, 2):
        blocks = [env.reset(seed=seed)[0]]
        done = False
        while not done:
            observation, _, terminated, truncated, _ = env.step(np.full(4, -0.1, dtype=np.float32))
            blocks.append(observation)
            done = terminated or truncated
        episodes.append(torch.from_numpy(np.stack(blocks[:-1])))
    joined = torch.cat(episodes)
    h0 = torch.randn(1, rl.actor.state_size)
    with torch.no_grad():
        mean, states, _ = rl.unroll(joined, h0)
        alone_mean, alone_states, _ = rl.unroll(episodes[1], torch.zeros(1, rl.actor.state_size))
        carried_mean, _, _ = rl.unroll(episodes[0], h0)
        fresh_mean, _, _ = rl.unroll(episodes[0], torch.zeros(1, rl.actor.state_size))
    split = len(episodes[0])
    torch.testing.assert_close(mean[split:], alone_mean)
    torch.testing.assert_close(states[split:], alone_states)
    torch.testing.assert_close(carried_mean, fresh_mean)  # the first episode's start zeroes h0 too
    assert states[split].abs().sum() == 0  # the safe period at the start: a cleared state


def test_finetuning_starts_at_the_checkpoint_and_the_warmup_leaves_it(tmp_path: Path) -> None:
    bc = make_policy(_hover_config(), seed=5)
    save_checkpoint(bc, tmp_path / "bc")
    path = _tiny("quad_hover_finetune", tmp_path, init=str(tmp_path / "bc"),
                 ppo={"critic_warmup_iterations": 2})
    config, base = load_rl_config(path)
    run = RLRun(config, tmp_path / "run", base)
    run.run()
    assert run.model is not None and run.model.num_timesteps == 200
    # two warm-up iterations: the critic moved, the actor is still exactly the checkpoint
    saved = load_checkpoint(tmp_path / "run" / "policy")
    for key, value in bc.state_dict().items():
        assert torch.equal(saved.state_dict()[key], value), key
    _assert_acts_as_runtime(run.model.policy, tmp_path / "bc", seed=4)


def test_finetuning_a_camera_policy_moves_the_core_and_never_the_cnn(tmp_path: Path) -> None:
    """QuadTarget: PPO updates move the CfC and the vector encoders; the camera's CNN and its
    auxiliary head stay exactly the checkpoint's, and the saved actor acts as the trained one."""
    bc = make_policy(policy_config("quad_target_cnn_cfc"), seed=6)
    save_checkpoint(bc, tmp_path / "bc")
    path = _tiny("quad_target_finetune_physics", tmp_path, init=str(tmp_path / "bc"), total_steps=128,
                 ppo={"n_steps": 64, "batch_size": 32, "critic_warmup_iterations": 0, "learning_rate": 0.01})
    config, base = load_rl_config(path)
    run = RLRun(config, tmp_path / "run", base)
    run.run()
    saved = load_checkpoint(tmp_path / "run" / "policy").state_dict()
    frozen = [key for key in saved if key.startswith(("encoders.camera.", "auxiliary."))]
    assert frozen and all(torch.equal(saved[key], bc.state_dict()[key]) for key in frozen)
    moved = [key for key in saved if key not in frozen and not torch.equal(saved[key], bc.state_dict()[key])]
    assert any(key.startswith("core.") for key in moved) and any(key.startswith("encoders.imu.") for key in moved)
    assert run.model is not None
    _assert_acts_as_runtime(run.model.policy, tmp_path / "run" / "policy", seed=3, steps=40, env_id=TARGET)


def test_a_scratch_run_saves_the_actor_it_trained(tmp_path: Path) -> None:
    path = _tiny("quad_hover_scratch", tmp_path, evaluation={"episodes": 1})
    config, base = load_rl_config(path)
    run = RLRun(config, tmp_path / "run", base)
    document = run.run()
    assert run.model is not None
    initial = load_checkpoint(tmp_path / "run" / "initial_policy")
    saved = load_checkpoint(tmp_path / "run" / "policy")
    assert any(not torch.equal(saved.state_dict()[k], v) for k, v in initial.state_dict().items())
    _assert_acts_as_runtime(run.model.policy, tmp_path / "run" / "policy", seed=6)
    assert document["before"]["nominal"]["episodes"] == 1 and "mean_return" in document["after"]["nominal"]
    for name in ("report.md", "learning_curve.png", "learning_curve.json", "evaluation.json", "run.yaml"):
        assert (tmp_path / "run" / name).is_file(), name
    assert any((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


def test_a_batched_run_trains_on_the_vector_env_and_repeats_bitwise(tmp_path: Path) -> None:
    """``batched: true``: every env in one QuadHoverVectorEnv; the actor it saves acts as the
    runtime, and the same config run again trains the same weights bit for bit (two updates on
    the rollouts of both)."""
    path = _tiny("quad_hover_scratch", tmp_path, batched=True, envs=8, total_steps=256,
                 ppo={"n_steps": 16, "batch_size": 64})
    config, base = load_rl_config(path)
    runs = [RLRun(config, tmp_path / name, base) for name in ("run", "again")]
    for run in runs:
        run.run()
    model = runs[0].model
    assert model is not None and model.num_timesteps == 256
    assert isinstance(model.get_env().unwrapped, BatchedStepsVecEnv)
    _assert_acts_as_runtime(model.policy, tmp_path / "run" / "policy", seed=8)
    weights = [load_checkpoint(tmp_path / name / "policy").state_dict() for name in ("run", "again")]
    assert all(torch.equal(value, weights[1][key]) for key, value in weights[0].items())


def test_model_overrides_train_a_baseline_core_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--model-overrides`` swaps the core of a scratch config (a baseline under the same recipe);
    the run folder stores the merged model; a bad override fails before a folder is made."""
    path = _tiny("quad_hover_scratch", tmp_path)
    lstm = "{core: {type: lstm, wiring: null, units: 20}}"
    assert main(["rl", "--config", str(path), "--out", str(tmp_path / "lstm"), "--quiet",
                 "--model-overrides", lstm]) == 0
    saved = yaml.safe_load((tmp_path / "lstm" / "run.yaml").read_text())
    assert saved["model"]["core"]["type"] == "lstm" and saved["model"]["core"]["units"] == 20
    assert saved["model_overrides"] == {}
    assert load_checkpoint(tmp_path / "lstm" / "policy").config.core.type == "lstm"
    for bad, message in (("[lstm]", "--model-overrides must be a mapping"),
                         ("{core: {type: lstn}}", "core.type")):
        assert main(["rl", "--config", str(path), "--out", str(tmp_path / "bad"), "--quiet",
                     "--model-overrides", bad]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()


def test_a_privileged_critic_reads_the_true_state_and_the_actor_never_does() -> None:
    """privileged: every row of a block ends with the env's privileged state of the period's end
    (an ended env's terminal block: its last state); the critic's value depends on those columns,
    the actor's action not at all."""
    config = _hover_config()
    venv = BatchedStepsVecEnv(config, 4, 6, nthread=1, privileged=True)
    plain = StepLayout(config)
    assert venv.layout.width == plain.width + venv.privileged_size == venv.observation_space.shape[1]
    venv.seed(3)
    observation = venv.reset()
    inner = venv.env
    np.testing.assert_array_equal(observation[:, :, venv.layout.privileged],
                                  np.repeat(inner.privileged_state()[:, None], 4, axis=1))
    goal_offset = observation[:, 0, venv.layout.privileged][:, :3]
    np.testing.assert_allclose(goal_offset, inner.goal - inner._qpos[:, :3], atol=1e-6)
    actions = np.zeros((6, 4))
    actions[:, 0] = -1.0  # no thrust: every env crashes
    ended = False
    for _ in range(200):
        venv.step_async(actions)
        observation, _, done, infos = venv.step_wait()
        for i in np.flatnonzero(done):
            terminal = infos[i]["terminal_observation"][0, venv.layout.privileged]
            assert not np.array_equal(terminal, observation[i, 0, venv.layout.privileged])  # a new episode's
            ended = True
    assert ended
    policy = LiquidActorCriticPolicy(venv.observation_space, venv.action_space, lambda _: 1e-3, config, 1e-4,
                                     privileged=venv.privileged_size)
    obs = torch.as_tensor(observation)
    changed = obs.clone()
    changed[:, :, venv.layout.privileged] += 1.0
    state = torch.zeros(1, 6, policy.actor.state_size)
    starts = torch.ones(6)
    with torch.no_grad():
        actions_a, values_a, _, _ = policy.forward(obs, RNNStates((state, state), (state, state)), starts, True)
        actions_b, values_b, _, _ = policy.forward(changed, RNNStates((state, state), (state, state)), starts, True)
    torch.testing.assert_close(actions_a, actions_b, rtol=0, atol=0)
    assert not torch.allclose(values_a, values_b)
    venv.close()


@pytest.mark.parametrize("anneal", [False, True])
def test_annealed_step_sizes_fall_to_zero_by_the_last_update(anneal: bool, tmp_path: Path) -> None:
    path = _tiny("quad_hover_scratch", tmp_path, envs=4, total_steps=256, ppo={"n_steps": 16, "batch_size": 32,
                                                                               "anneal": anneal})
    config, base = load_rl_config(path)
    run = RLRun(config, tmp_path / "run", base)
    run.run()
    assert run.model is not None and run.model.iterations == 4
    configured = [config.ppo.learning_rate, config.ppo.critic_learning_rate]
    assert run.model.base_learning_rates == configured
    # sb3 updates after each rollout: the last update comes with nothing of the run left to go
    expected = [0.0, 0.0] if anneal else configured
    assert [group["lr"] for group in run.model.policy.optimizer.param_groups] == expected


def test_the_batched_envs_report_their_episodes_as_sb3_monitors_do() -> None:
    """Each ended env's info: its last block (the blocks' own final block), its return (the sum
    of the rewards it was given), its length and success; the observation is its new episode's."""
    config = _hover_config()
    venv = BatchedStepsVecEnv(config, 4, 6, nthread=1)
    venv.seed(3)
    observation = venv.reset()
    returns, lengths, ended = np.zeros(6), np.zeros(6, int), 0
    rng = np.random.default_rng(0)
    for _ in range(300):
        actions = rng.uniform(-1, 1, (6, 4))
        actions[:, 0] = -1.0  # no thrust: each falls to the floor within about a second
        venv.step_async(actions)
        following, reward, done, infos = venv.step_wait()
        returns += reward
        lengths += 1
        for i in np.flatnonzero(done):
            info = infos[i]
            assert info["episode"]["l"] == lengths[i]
            assert info["episode"]["r"] == pytest.approx(returns[i], rel=1e-5)
            assert info["terminal_observation"].shape == observation.shape[1:]
            assert info["is_success"] is False and isinstance(info["TimeLimit.truncated"], bool)
            assert following[i, 0, StepLayout(config).safe] == 1.0  # a new episode: no step yet
            ended += 1
        returns[done], lengths[done] = 0.0, 0
        observation = following
    assert ended >= 6
    venv.close()


def test_the_rl_command_runs_the_finetune_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_checkpoint(make_policy(_hover_config(), seed=2), tmp_path / "bc")
    path = _tiny("quad_hover_finetune", tmp_path, init=str(tmp_path / "bc"), total_steps=100,
                 ppo={"critic_warmup_iterations": 0, "use_sde": True, "sde_sample_freq": 10})
    assert main(["rl", "--config", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "100 control steps" in capsys.readouterr().out
    assert "fine-tuning" in (tmp_path / "run" / "report.md").read_text()
    assert main(["rl", "--config", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "already holds an RL run" in capsys.readouterr().err
    assert main(["rl", "--config", str(path), "--out", str(tmp_path / "seeded"), "--quiet", "--seed", "-1"]) == 2
    assert "--seed must be >= 0" in capsys.readouterr().err
    assert main(["rl", "--config", str(path), "--out", str(tmp_path / "seeded"), "--quiet", "--seed", "7"]) == 0
    assert yaml.safe_load((tmp_path / "seeded" / "run.yaml").read_text())["seed"] == 7


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model": "../models/quad_hover_cfc.yaml"}, "set exactly one of init"),
        ({"init": None}, "set exactly one of init"),
        ({"init": "no/such/policy"}, "init: no/such/policy is not a checkpoint"),
        ({"ppo": {"clip_range": 0}}, "ppo: clip_range must be > 0"),
        ({"ppo": {"learning_rat": 1e-4}}, "unknown key 'ppo.learning_rat'"),
        ({"envs": 0}, "envs must be >= 1"),
        ({"batched": True, "env": {"id": "lnn_control/QuadTarget-v0"}}, "batched: only lnn_control/QuadHover-v0"),
        ({"curriculum_steps": 1000}, "the start curriculum needs batched: true"),
        ({"ppo": {"privileged_critic": True}}, "privileged state comes from the batched env"),
        ({"model_overrides": {"core": {"units": 8}}}, "model_overrides: fine-tuning keeps the init"),
    ],
)
def test_config_errors_name_the_key(change: dict[str, Any], message: str, tmp_path: Path) -> None:
    data = yaml.safe_load((RL_CONFIGS / "quad_hover_finetune.yaml").read_text())
    for key, value in change.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    if data.get("init") == "out/train/quad_hover/policy":
        save_checkpoint(make_policy(_hover_config()), tmp_path / "bc")
        data["init"] = str(tmp_path / "bc")
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_rl_config(path)


def test_a_camera_policy_needs_its_trained_encoder(tmp_path: Path) -> None:
    """RL freezes image encoders: without one (the wrapper) or from scratch (the run) it says so."""
    config = policy_config("quad_target_cnn_cfc")
    with pytest.raises(ConfigError, match=r"trained encoder for the image streams \['camera'\]"):
        NetworkStepsEnv(short_env(TARGET, 10), config, 4)
    path = _tiny("quad_target_finetune_physics", tmp_path, init=None,
                 model=str(MODELS / "quad_target_cnn_cfc.yaml"))
    with pytest.raises(ConfigError, match="set init to a behaviour-cloned policy"):
        RLRun(load_rl_config(path)[0], tmp_path / "run")



def test_relative_joint_commands_are_refused_with_the_fix() -> None:
    raw = read_yaml(MODELS / "arm_reach_cnn_cfc.yaml")
    raw["streams"] = [s for s in raw["streams"] if s["kind"] != "image"]  # the joints alone
    with pytest.raises(ConfigError, match="remove actions.relative_to"):
        NetworkStepsEnv(short_env(HOVER, 10), config_from_dict(PolicyConfig, raw), 4)


@pytest.mark.parametrize("path", sorted(RL_CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_rl_config_runs_with_a_tiny_budget(path: Path, tmp_path: Path) -> None:
    """Every key checks out and the whole command runs it (few envs, steps and episodes); a
    fine-tuning config's ``init`` (a trained policy, absent from a clone) is replaced by a fresh
    checkpoint of its env's model."""
    data = yaml.safe_load(path.read_text())
    if data.get("init") is not None:
        model = policy_config("quad_target_cnn_cfc" if data["env"]["id"] == TARGET else "quad_hover_cfc")
        data["init"] = str(save_checkpoint(make_policy(model), tmp_path / "init"))
    else:
        data["model"] = str((RL_CONFIGS / data["model"]).resolve())
    (tmp_path / "shipped.yaml").write_text(yaml.safe_dump(data))
    config, _ = load_rl_config(tmp_path / "shipped.yaml")
    assert config.total_steps >= config.ppo.n_steps * config.envs  # at least one PPO update
    envs = 8 if data.get("batched") else 1
    data = merge(data, {"envs": envs, "workers": 0, "total_steps": 2 * 16 * envs, "statistics_steps": 100,
                        "curriculum_steps": 16 * envs if data.get("curriculum_steps") else 0,
                        "ppo": {"n_steps": 16, "batch_size": 16 * envs, "n_epochs": 1},
                        "evaluation": {"episodes": 1}})
    (tmp_path / path.name).write_text(yaml.safe_dump(data))
    assert main(["rl", "--config", str(tmp_path / path.name), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "policy").is_dir() and (tmp_path / "run" / "report.md").is_file()


@pytest.mark.parametrize("heading", [True, False])
def test_the_start_curriculum_grows_the_heading_only_if_asked(heading: bool) -> None:
    """``curriculum_heading``: halfway through ``curriculum_steps`` the start ranges are at
    ``0.2 + 0.8 / 2`` of the scenario's; the heading range too, or all of it (false)."""
    from types import SimpleNamespace

    from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv
    from lnn_control.train.rl.run import _grow_starts

    config, _ = load_rl_config(RL_CONFIGS / "quad_hover_scratch.yaml")
    config = dataclasses.replace(config, curriculum_heading=heading)
    holder = SimpleNamespace(env=QuadHoverVectorEnv(num_envs=2, nthread=1))
    _grow_starts(holder, config, config.curriculum_steps // 2)  # type: ignore[arg-type]
    assert holder.env.start_scale == pytest.approx(0.6)
    assert holder.env.heading_scale == pytest.approx(0.6 if heading else 1.0)
