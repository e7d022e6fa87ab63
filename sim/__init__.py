"""Simulation suite (installed as ``lnn_control.sim``): MuJoCo models, Gymnasium envs, experts."""
