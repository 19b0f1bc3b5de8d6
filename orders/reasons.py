"""Reason codes a marketplace accepts with our own cancellations and refunds (Mirakl's RE02), offered on the
order's forms beside our own reasons. The connectors (channels, a higher layer) register where they keep them;
orders never imports them."""

from collections.abc import Callable

# (channel, family "cancellation" | "refund") -> ([(code, label)], default code) or None when not theirs
ReasonSource = Callable[..., tuple[list[tuple[str, str]], str] | None]
_SOURCES: list[ReasonSource] = []


def register_marketplace_reasons(source: ReasonSource) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


def marketplace_reasons(*, channel, family: str) -> tuple[list[tuple[str, str]], str]:
    """The marketplace's reason codes for a family of change on this channel and the connector's default
    (empty when the channel is not a marketplace that takes reason codes)."""
    for source in _SOURCES:
        found = source(channel=channel, family=family)
        if found is not None:
            return found
    return [], ""
