"""SPDY/3.1 framing, the least that `kubectl port-forward` needs, as pure values.

kubectl 1.31+ forwards ports over a websocket whose subprotocol is
`SPDY/3.1+portforward.k8s.io`: the websocket's binary messages are a byte stream (client-go
`tools/portforward/tunneling_connection.go`) carrying an ordinary SPDY/3.1 session
(`moby/spdystream`), the same one the kubelet serves after an HTTP upgrade. The client opens
two streams per connection (SYN_STREAM with headers `streamtype: error|data`, `port`,
`requestid`), the server answers each with SYN_REPLY and then DATA frames, FIN closing a
direction. Header blocks are zlib-compressed with the SPDY/3 dictionary, one compression
context per direction for the whole session. spdystream keeps no flow-control windows, so
WINDOW_UPDATE and SETTINGS are read and ignored, and never sent.

Frame layout (draft-mbelshe-httpbis-spdy-00, section 2.2): control frames start with the
control bit, version 3 and a 16-bit type; data frames with a 31-bit stream id; both then
8 bits of flags and a 24-bit length.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_FRAME = 1 << 24  # the 24-bit length; we accept less (below)
MAX_ACCEPTED_FRAME = 1 << 20  # larger frames end the session (spdystream writes <= 32 KiB)
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM, RST_CANCEL = 1, 2, 3, 5
GOAWAY_OK = 0


class SpdyError(ValueError):
    """A frame that does not parse; the session ends."""


@dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = ControlFrame | DataFrame


@dataclass(slots=True)
class FrameReader:
    """Splits a byte stream into frames; `feed()` returns the frames completed so far."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            word, flags_length = struct.unpack_from(">II", self._buffer)
            flags, length = flags_length >> 24, flags_length & 0xFFFFFF
            if length > MAX_ACCEPTED_FRAME:
                raise SpdyError(f"frame of {length} bytes is too large")
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            if word & 0x80000000:
                version, type_ = (word >> 16) & 0x7FFF, word & 0xFFFF
                if version != VERSION:
                    raise SpdyError(f"unsupported SPDY version {version}")
                frames.append(ControlFrame(type_, flags, payload))
            else:
                frames.append(DataFrame(word & 0x7FFFFFFF, flags, payload))
        return frames


def control(type_: int, payload: bytes, flags: int = 0) -> bytes:
    if len(payload) >= MAX_FRAME:
        raise SpdyError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


def data(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
    if len(payload) >= MAX_FRAME:
        raise SpdyError("data frame too large")
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def rst_stream(stream_id: int, status: int) -> bytes:
    return control(RST_STREAM, struct.pack(">II", stream_id & 0x7FFFFFFF, status))


def ping(ping_id: int) -> bytes:
    return control(PING, struct.pack(">I", ping_id))


def goaway(last_good_stream_id: int, status: int = GOAWAY_OK) -> bytes:
    return control(GOAWAY, struct.pack(">II", last_good_stream_id & 0x7FFFFFFF, status))


@dataclass(frozen=True, slots=True)
class SynStream:
    stream_id: int
    headers: dict[str, list[str]]
    fin: bool


def stream_id_of(frame: ControlFrame) -> int:
    """The stream a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE is about."""
    if len(frame.payload) < 4:
        raise SpdyError("control frame too short")
    return int(struct.unpack_from(">I", frame.payload)[0]) & 0x7FFFFFFF


def ping_id(frame: ControlFrame) -> int:
    if len(frame.payload) != 4:
        raise SpdyError("invalid PING frame")
    return int(struct.unpack(">I", frame.payload)[0])


class HeaderCodec:
    """One direction's header compression context (each side compresses what it sends with
    its own zlib stream, flushed after every block)."""

    MAX_HEADER_BYTES = 1 << 16

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                         zdict=DICTIONARY)  # fmt: skip

    def decode(self, block: bytes) -> dict[str, list[str]]:
        try:
            raw = self._inflate.decompress(block, self.MAX_HEADER_BYTES)
        except zlib.error as exc:
            raise SpdyError(f"header block does not decompress: {exc}") from None
        return parse_header_block(raw)

    def encode(self, headers: dict[str, list[str]]) -> bytes:
        raw = build_header_block(headers)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_stream(self, frame: ControlFrame) -> SynStream:
        if len(frame.payload) < 10:
            raise SpdyError("SYN_STREAM too short")
        return SynStream(
            stream_id=stream_id_of(frame),
            headers=self.decode(frame.payload[10:]),
            fin=bool(frame.flags & FLAG_FIN),
        )

    def syn_reply(self, stream_id: int, headers: dict[str, list[str]] | None = None) -> bytes:
        block = self.encode(headers or {})
        return control(SYN_REPLY, struct.pack(">I", stream_id & 0x7FFFFFFF) + block)


def parse_header_block(raw: bytes) -> dict[str, list[str]]:
    """A SPDY/3 name/value block: 32-bit count, then length-prefixed names and values; a
    value holds several, NUL-separated. Names are lower case."""
    try:
        (count,) = struct.unpack_from(">I", raw)
        pos = 4
        headers: dict[str, list[str]] = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4 : pos + 4 + n]
            pos += 4 + n
            (v,) = struct.unpack_from(">I", raw, pos)
            value = raw[pos + 4 : pos + 4 + v]
            pos += 4 + v
            if len(name) != n or len(value) != v:
                raise SpdyError("truncated header block")
            text = name.decode("utf-8", "replace").lower()
            headers.setdefault(text, []).extend(value.decode("utf-8", "replace").split("\0"))
    except struct.error:
        raise SpdyError("truncated header block") from None
    return headers


def build_header_block(headers: dict[str, list[str]]) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        key, value = name.lower().encode(), "\0".join(values).encode()
        out += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
    return b"".join(out)


# The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1).
DICTIONARY = bytes.fromhex(
    "000000076f7074696f6e73000000046865616400000004706f7374000000037075740000000664656c657465"
    "000000057472616365000000066163636570740000000e6163636570742d636861727365740000000f616363"
    "6570742d656e636f64696e670000000f6163636570742d6c616e67756167650000000d6163636570742d7261"
    "6e6765730000000361676500000005616c6c6f770000000d617574686f72697a6174696f6e0000000d636163"
    "68652d636f6e74726f6c0000000a636f6e6e656374696f6e0000000c636f6e74656e742d6261736500000010"
    "636f6e74656e742d656e636f64696e6700000010636f6e74656e742d6c616e67756167650000000e636f6e74"
    "656e742d6c656e67746800000010636f6e74656e742d6c6f636174696f6e0000000b636f6e74656e742d6d64"
    "350000000d636f6e74656e742d72616e67650000000c636f6e74656e742d7479706500000004646174650000"
    "0004657461670000000665787065637400000007657870697265730000000466726f6d00000004686f737400"
    "00000869662d6d617463680000001169662d6d6f6469666965642d73696e63650000000d69662d6e6f6e652d"
    "6d617463680000000869662d72616e67650000001369662d756e6d6f6469666965642d73696e63650000000d"
    "6c6173742d6d6f646966696564000000086c6f636174696f6e0000000c6d61782d666f727761726473000000"
    "06707261676d610000001270726f78792d61757468656e7469636174650000001370726f78792d617574686f"
    "72697a6174696f6e0000000572616e676500000007726566657265720000000b72657472792d616674657200"
    "00000673657276657200000002746500000007747261696c6572000000117472616e736665722d656e636f64"
    "696e6700000007757067726164650000000a757365722d6167656e7400000004766172790000000376696100"
    "0000077761726e696e67000000107777772d61757468656e746963617465000000066d6574686f6400000003"
    "6765740000000673746174757300000006323030204f4b0000000776657273696f6e00000008485454502f31"
    "2e310000000375726c000000067075626c69630000000a7365742d636f6f6b69650000000a6b6565702d616c"
    "697665000000066f726967696e31303031303132303132303232303532303633303033303233303333303433"
    "3035333036333037343032343035343036343037343038343039343130343131343132343133343134343135"
    "343136343137353032353034353035323033204e6f6e2d417574686f726974617469766520496e666f726d61"
    "74696f6e323034204e6f20436f6e74656e74333031204d6f766564205065726d616e656e746c793430302042"
    "6164205265717565737434303120556e617574686f72697a656434303320466f7262696464656e343034204e"
    "6f7420466f756e6435303020496e7465726e616c20536572766572204572726f72353031204e6f7420496d70"
    "6c656d656e746564353033205365727669636520556e617661696c61626c654a616e20466562204d61722041"
    "7072204d6179204a756e204a756c204175672053657074204f6374204e6f76204465632030303a30303a3030"
    "204d6f6e2c205475652c205765642c205468752c204672692c205361742c2053756e2c20474d546368756e6b"
    "65642c746578742f68746d6c2c696d6167652f706e672c696d6167652f6a70672c696d6167652f6769662c61"
    "70706c69636174696f6e2f786d6c2c6170706c69636174696f6e2f7868746d6c2b786d6c2c746578742f706c"
    "61696e2c746578742f6a6176617363726970742c7075626c6963707269766174656d61782d6167653d677a69"
    "702c6465666c6174652c73646368636861727365743d7574662d38636861727365743d69736f2d383835392d"
    "312c7574662d2c2a2c656e713d302e"
)
