"""Errors a user can cause when replaying a bag. Each message names the problem and the fix."""

from __future__ import annotations

from lnn_control.errors import LnnControlError

__all__ = [
    "BagError",
    "BagNotFoundError",
    "BagReadError",
    "MessageTypeError",
    "OutputExistsError",
    "TopicNotFoundError",
]


class BagError(LnnControlError):
    """Base class of the errors of :mod:`lnn_control.bags`."""


class BagNotFoundError(BagError, FileNotFoundError):
    """The bag path does not exist, or is not a bag (wrong suffix, empty folder)."""


class BagReadError(BagError):
    """The bag exists but cannot be read: truncated, corrupt, or its parts disagree."""


class TopicNotFoundError(BagError, KeyError):
    """A topic the parameter file maps to a stream is not in the bag.

    The message lists the topics the bag has, with their types.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MessageTypeError(BagError, TypeError):
    """A topic's message type does not fit the stream (or command) it is mapped to."""


class OutputExistsError(BagError, FileExistsError):
    """The output folder already holds results; nothing is overwritten."""
