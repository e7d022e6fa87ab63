"""lnn_control: liquid neural network (LTC / CfC with NCP wiring) control policies for robots.

Subpackages, in dependency order (each imports only those before it):
``liquid`` (the time-aware recurrent core) <- ``perception`` <- ``policy`` <- ``ros``, ``bags``,
``train`` and ``sim``. Importing ``lnn_control`` itself imports nothing heavy.
"""

__version__ = "0.1.0"
