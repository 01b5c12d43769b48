"""The streaming protocols' framing, as pure functions: remote-command channels (v1-v5, binary
and base64), the v5 CLOSE signal, resize messages, the error channel's Status, the port
prefix, and the SPDY/3.1 frames and header blocks of the port-forward tunnel."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from minikubelet.api import channels as ch
from minikubelet.api import spdy


@pytest.mark.parametrize(
    ("channel", "data", "text", "wire"),
    [
        (1, b"hello", False, b"\x01hello"),
        (0, b"", False, b"\x00"),
        (3, b'{"status":"Success"}', False, b'\x03{"status":"Success"}'),
        (1, b"hello", True, "1aGVsbG8="),
        (2, b"\xff\x00", True, "2/wA="),
    ],
)
def test_channel_messages_round_trip(channel: int, data: bytes, text: bool, wire: object) -> None:
    assert ch.encode(channel, data, text=text) == wire
    assert ch.decode(wire, text=text) == (channel, data)  # type: ignore[arg-type]


def test_text_messages_on_a_binary_protocol_are_bytes() -> None:
    # the Python client writes str stdin as text messages, channel byte first
    assert ch.decode("\x00hello\n") == (0, b"hello\n")


@pytest.mark.parametrize(
    ("bad", "text"), [(b"", False), ("", False), ("", True), ("x", True), ("1***", True)]
)
def test_undecodable_messages_are_frame_errors(bad: bytes | str, text: bool) -> None:
    with pytest.raises(ch.FrameError):
        ch.decode(bad, text=text)


@pytest.mark.parametrize(
    ("channel", "data", "protocol", "closed"),
    [
        (255, b"\x00", ch.V5, 0),  # client-go stream.Close on stdin
        (255, b"\x04", ch.V5, 4),
        (255, b"\x00", ch.V4, None),  # before v5, 255 is just a channel number
        (255, b"", ch.V5, None),
        (0, b"\x00", ch.V5, None),
    ],
)
def test_v5_close_signal(channel: int, data: bytes, protocol: str, closed: int | None) -> None:
    assert ch.closed_channel(channel, data, protocol) == closed


def test_close_signal_bytes() -> None:
    assert ch.close_signal(0) == b"\xff\x00"


def test_resize_messages_split_and_joined() -> None:
    decoder = ch.ResizeDecoder()
    assert decoder.feed(b'{"Width":80,') == []
    assert decoder.feed(b'"Height":24}{"Width":100,"Height":30}\n') == [
        ch.TerminalSize(80, 24),
        ch.TerminalSize(100, 30),
    ]
    assert decoder.feed(b" ") == []


@pytest.mark.parametrize(
    "bad", [b"[1]", b'{"Width":-1,"Height":2}', b'{"Width":70000}', b'{"Height":"x"}', b"nope"]
)
def test_bad_resize_messages(bad: bytes) -> None:
    with pytest.raises(ch.FrameError):
        ch.ResizeDecoder().feed(bad)


def test_missing_resize_fields_are_zero() -> None:
    assert ch.ResizeDecoder().feed(b"{}") == [ch.TerminalSize(0, 0)]


def test_exit_status_is_what_kubectl_decodes() -> None:
    status = ch.exit_status(3)
    assert status["status"] == "Failure"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert status["message"] == (
        "command terminated with non-zero exit code: command terminated with exit code 3"
    )


@pytest.mark.parametrize(
    ("status", "protocol", "payload"),
    [
        (ch.success_status(), ch.V5, b'{"metadata":{},"status":"Success"}'),
        (ch.success_status(), ch.V4, b'{"metadata":{},"status":"Success"}'),
        (ch.success_status(), ch.V1, b""),
        (ch.internal_error_status("boom"), ch.V1, b"Internal error occurred: boom"),
    ],
)
def test_error_channel_payload(status: dict[str, object], protocol: str, payload: bytes) -> None:
    assert ch.error_channel_payload(status, protocol) == payload


def test_internal_error_status() -> None:
    status = json.loads(ch.error_channel_payload(ch.internal_error_status("x y"), ch.V5))
    assert status["message"] == "Internal error occurred: x y"
    assert status["reason"] == "InternalError"
    assert status["code"] == 500


@pytest.mark.parametrize(("port", "prefix"), [(80, b"\x50\x00"), (8080, b"\x90\x1f")])
def test_port_prefix_is_little_endian(port: int, prefix: bytes) -> None:
    assert ch.port_prefix(port) == prefix


@pytest.mark.parametrize(
    ("values", "result"),
    [(["80"], [80]), (["80,8080", "9000"], [80, 8080, 9000])],
)
def test_parse_ports(values: list[str], result: list[int]) -> None:
    assert ch.parse_ports(values) == result


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], 'query parameter "ports" is required'),
        (["http"], 'unable to parse "http" as a port: invalid syntax'),
        (["70000"], 'unable to parse "70000" as a port: invalid syntax'),
        (["0"], 'port "0" must be > 0'),
    ],
)
def test_parse_ports_errors(values: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        ch.parse_ports(values)


# --- SPDY ------------------------------------------------------------------------------------


def test_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options")
    assert spdy.DICTIONARY.endswith(b",enq=0.")


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (spdy.data(1, b"ab"), b"\x00\x00\x00\x01\x00\x00\x00\x02ab"),
        (spdy.data(3, b"", fin=True), b"\x00\x00\x00\x03\x01\x00\x00\x00"),
        (spdy.ping(7), b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x07"),
        (
            spdy.rst_stream(5, 1),
            b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x01",
        ),
        (spdy.goaway(9), b"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00\x00"),
    ],
)
def test_frames_on_the_wire(frame: bytes, wire: bytes) -> None:
    assert frame == wire


def test_reader_reassembles_frames_split_anywhere() -> None:
    stream = spdy.data(1, b"hello") + spdy.ping(3) + spdy.data(1, b"", fin=True)
    reader = spdy.FrameReader()
    frames: list[spdy.Frame] = []
    for i in range(len(stream)):
        frames += reader.feed(stream[i : i + 1])
    assert frames == [
        spdy.DataFrame(1, 0, b"hello"),
        spdy.ControlFrame(spdy.PING, 0, b"\x00\x00\x00\x03"),
        spdy.DataFrame(1, spdy.FLAG_FIN, b""),
    ]
    assert frames[2].fin  # type: ignore[union-attr]


def test_reader_refuses_oversized_frames_and_other_versions() -> None:
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(struct.pack(">II", 1, (1 << 24) - 1))
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")


def test_header_blocks_share_one_compression_context() -> None:
    client, server = spdy.HeaderCodec(), spdy.HeaderCodec()
    first = {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}
    second = {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}
    a, b = client.encode(first), client.encode(second)
    assert server.decode(a) == first
    assert server.decode(b) == second  # needs the context of the first block
    with pytest.raises(spdy.SpdyError):
        spdy.HeaderCodec().decode(b)  # a fresh context cannot read the second block


def test_header_block_layout_and_multiple_values() -> None:
    raw = spdy.build_header_block({"A": ["x", "y"]})
    assert raw == b"\x00\x00\x00\x01\x00\x00\x00\x01a\x00\x00\x00\x03x\x00y"
    assert spdy.parse_header_block(raw) == {"a": ["x", "y"]}
    with pytest.raises(spdy.SpdyError):
        spdy.parse_header_block(raw[:-2])


def test_header_blocks_use_the_spdy3_dictionary() -> None:
    block = spdy.HeaderCodec().encode({})
    # zlib header with FDICT and the dictionary's Adler-32, as Go's zlib.NewReaderDict wants
    assert block[1] & 0x20
    assert struct.unpack(">I", block[2:6])[0] == zlib.adler32(spdy.DICTIONARY)


def test_syn_stream_and_syn_reply() -> None:
    client, server = spdy.HeaderCodec(), spdy.HeaderCodec()
    headers = {"streamtype": ["data"], "port": ["8080"], "requestid": ["1"]}
    payload = struct.pack(">IIH", 3, 0, 0) + client.encode(headers)
    (frame,) = spdy.FrameReader().feed(spdy.control(spdy.SYN_STREAM, payload))
    assert isinstance(frame, spdy.ControlFrame)
    syn = server.syn_stream(frame)
    assert (syn.stream_id, syn.headers, syn.fin) == (3, headers, False)
    (reply,) = spdy.FrameReader().feed(server.syn_reply(3))
    assert isinstance(reply, spdy.ControlFrame)
    assert reply.type == spdy.SYN_REPLY
    assert spdy.stream_id_of(reply) == 3
    assert client.decode(reply.payload[4:]) == {}
