"""Allocates memory in steps of --step MiB every --every seconds, touching every page."""

import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--step", type=int, default=20)
parser.add_argument("--every", type=float, default=0.5)
args = parser.parse_args()
hoard = []
while True:
    hoard.append(bytearray(args.step * 1024 * 1024))
    print(f"holding {len(hoard) * args.step} MiB", flush=True)
    time.sleep(args.every)
