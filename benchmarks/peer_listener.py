"""The peer's event listener: `peer_listener.py RECORD`. Speaks supervisord's event listener
protocol on stdin/stdout and appends `<wall clock> <event name> <process name>` to RECORD the
moment each event's header arrives, before anything else is done with it."""

from __future__ import annotations

import sys
import time


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    with open(sys.argv[1], "a", buffering=1) as out:
        while True:
            stdout.write(b"READY\n")
            stdout.flush()
            header = stdin.readline()
            if not header:
                return
            arrived = time.time()
            fields = dict(part.split(":", 1) for part in header.decode().split())
            payload = stdin.read(int(fields["len"])).decode()
            body = dict(part.split(":", 1) for part in payload.split() if ":" in part)
            out.write(f"{arrived:.6f} {fields['eventname']} {body.get('processname', '')}\n")
            stdout.write(b"RESULT 2\nOK")
            stdout.flush()


if __name__ == "__main__":
    main()
