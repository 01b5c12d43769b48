"""The framing of Kubernetes' websocket streaming protocols, as pure functions.

Remote command (exec, attach): every websocket message carries one channel's bytes, the
channel number first (`k8s.io/apimachinery/pkg/util/remotecommand` constants: stdin 0, stdout
1, stderr 2, error 3, resize 4); the `base64.` variants send text messages, the channel as an
ASCII digit and the data base64-encoded (`wsstream/conn.go`). `v5.channel.k8s.io` adds the
CLOSE signal: channel 255 followed by the number of the channel the peer is done writing
(client-go `tools/remotecommand/websocket.go` stream.Close). The error channel carries one
`metav1.Status` as JSON (v4 and v5; plain text before v4), the resize channel a stream of
`{"Width": w, "Height": h}` objects.

Port forward over websockets (the kubelet's `cri/streaming/portforward/websocket.go`): two
channels per requested port, data `2i` and error `2i+1`, each opened by the port number as two
little-endian bytes.

Logs over websockets (`wsstream/stream.go`): each chunk one binary message (`binary.k8s.io`)
or one base64 text message (`base64.binary.k8s.io`), no channel byte.

Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: [255, channel] half-closes a channel

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
# exec/attach: what the API server's stream translator (v5) and the kubelet (v1-v4) speak
REMOTE_COMMAND_PROTOCOLS = (V5, V4, V4_BASE64, V1, V1_BASE64)
# port forward over plain websocket channels (the kubelet's); the SPDY tunnel is separate
PORT_FORWARD_PROTOCOLS = (V4, V4_BASE64)
SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"  # client-go tools/portforward tunneling_dialer
LOG_PROTOCOLS = ("binary.k8s.io", "base64.binary.k8s.io")

NON_ZERO_EXIT = "NonZeroExitCode"  # remotecommand.NonZeroExitCodeReason
EXIT_CODE_CAUSE = "ExitCode"  # remotecommand.ExitCodeCauseType


def is_base64(protocol: str) -> bool:
    return "base64" in protocol


def encode(channel: int, data: bytes, *, text: bool = False) -> bytes | str:
    """One message for `channel`: bytes for the binary protocols, str for base64 ones."""
    if text:
        return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
    return bytes((channel,)) + data


class FrameError(ValueError):
    """A message that does not follow the protocol."""


def decode(message: bytes | str, *, text: bool = False) -> tuple[int, bytes]:
    """(channel, data) of a client's message; raises FrameError for an empty or undecodable
    one. `text`: a base64 protocol. On the binary protocols a text message is taken as its
    UTF-8 bytes, as wsstream reads both kinds alike (the Python client sends str data as
    text messages)."""
    if text:
        if isinstance(message, bytes):
            message = message.decode("ascii", "replace")
        if not message:
            raise FrameError("empty message")
        channel = ord(message[0]) - ord("0")
        if not 0 <= channel <= 9:
            raise FrameError(f"invalid channel {message[0]!r}")
        try:
            return channel, base64.b64decode(message[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FrameError(f"invalid base64 data: {exc}") from None
    raw = message.encode() if isinstance(message, str) else message
    if not raw:
        raise FrameError("empty message")
    return raw[0], bytes(raw[1:])


def close_signal(channel: int) -> bytes:
    return bytes((CLOSE, channel))


def closed_channel(channel: int, data: bytes, protocol: str) -> int | None:
    """The channel a v5 CLOSE signal closes, None for any other message."""
    if protocol != V5 or channel != CLOSE or not data:
        return None
    return data[0]


@dataclass(frozen=True, slots=True)
class TerminalSize:
    width: int
    height: int


class ResizeDecoder:
    """Terminal sizes from the resize channel, which is one JSON stream split anywhere across
    messages (the API server reads it with a json.Decoder). A malformed object ends it."""

    MAX_PENDING = 4096

    def __init__(self) -> None:
        self._pending = ""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[TerminalSize]:
        self._pending += data.decode("utf-8", "replace")
        if len(self._pending) > self.MAX_PENDING:
            raise FrameError("resize message too long")
        sizes: list[TerminalSize] = []
        while True:
            text = self._pending.lstrip()
            if not text:
                self._pending = ""
                return sizes
            try:
                value, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self._pending = text
                if text[0] != "{":
                    raise FrameError("resize message is not a JSON object") from None
                return sizes  # incomplete: wait for more
            self._pending = text[end:]
            sizes.append(terminal_size(value))


def terminal_size(value: Any) -> TerminalSize:
    """remotecommand.TerminalSize: `Width` and `Height`, uint16 each."""
    if not isinstance(value, dict):
        raise FrameError("resize message is not a JSON object")
    sizes = []
    for key in ("Width", "Height"):
        n = value.get(key, 0)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 0xFFFF:
            raise FrameError(f"invalid {key}: {n!r}")
        sizes.append(n)
    return TerminalSize(width=sizes[0], height=sizes[1])


# --- the error channel's Status -------------------------------------------------------------


def success_status() -> dict[str, Any]:
    """What `json.Marshal(metav1.Status{Status: Success})` gives."""
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int) -> dict[str, Any]:
    """apiserver: util/proxy/streamtranslator.go codeExitToStatusError; kubectl prints
    `command terminated with exit code N` and exits with N."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: "
        f"command terminated with exit code {code}",
        "reason": NON_ZERO_EXIT,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """apierrors.NewInternalError(err) as marshalled on the error channel."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def error_channel_payload(status: dict[str, Any], protocol: str) -> bytes:
    """v4 and v5 send the Status as JSON; older protocols only a failure's message as text
    (the kubelet's v1WriteStatusFunc), and nothing for success."""
    if protocol in (V5, V4, V4_BASE64):
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()


# --- port forward -------------------------------------------------------------------------


def port_prefix(port: int) -> bytes:
    """The first bytes of both channels of a forwarded port: the port, little-endian."""
    return port.to_bytes(2, "little")


def parse_ports(values: list[str]) -> list[int]:
    """kubelet: portforward.NewV4Options: `ports` is required, each a comma-separated list of
    ports 1-65535. Raises ValueError with the kubelet's message."""
    if not values:
        raise ValueError('query parameter "ports" is required')
    ports = []
    for value in values:
        for text in value.split(","):
            if not text.isdigit() or int(text) > 0xFFFF:
                raise ValueError(f'unable to parse "{text}" as a port: invalid syntax')
            if int(text) < 1:
                raise ValueError(f'port "{text}" must be > 0')
            ports.append(int(text))
    return ports
