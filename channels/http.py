"""HTTP to the channels' shops: one client with timeouts, and the two kinds of failure a task tells apart."""

import httpx

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class ChannelError(Exception):
    """The channel refused the request (bad credentials, unknown object, invalid data): retrying the same
    request will not help. Shown on the connector page."""

    def __init__(self, message: str, *, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body[:2000]


class ChannelUnavailable(Exception):
    """A network error, a timeout, a 5xx or a 429: the task retries with backoff."""


def client(*, base_url: str, auth=None, headers: dict | None = None, transport=None) -> httpx.Client:
    """``transport``: a sandbox connector's simulated shop (``channels/sandbox.py``), None for the network."""
    return httpx.Client(
        base_url=base_url, auth=auth, headers=headers or {}, timeout=TIMEOUT, transport=transport
    )


def send(client_: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    """Send and sort the outcome: the response on 2xx, ``ChannelUnavailable`` for what a retry may fix,
    ``ChannelError`` otherwise."""
    try:
        response = client_.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ChannelUnavailable(f"Timeout calling {url}.") from exc
    except httpx.TransportError as exc:
        raise ChannelUnavailable(f"Network error calling {url}: {exc}.") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ChannelUnavailable(f"{url} answered {response.status_code}.")
    if response.status_code >= 400:
        raise ChannelError(
            f"{method} {url} answered {response.status_code}.",
            status=response.status_code,
            body=response.text,
        )
    return response
