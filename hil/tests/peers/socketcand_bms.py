"""A python-can peer on a chargestorm socketcand segment.

Joins the bus with python-can's `socketcand` interface, answers every CHM with a BHM
(as a BMS would) for a few seconds, and prints one JSON line: the identifiers it saw and
how many BHMs it sent. Usage: socketcand_bms.py HOST PORT CHANNEL SECONDS
"""

import json
import sys
import time

import can


def main() -> int:
    host, port, channel, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    bus = can.Bus(interface="socketcand", host=host, port=port, channel=channel)
    seen = {}
    sent = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            msg = bus.recv(timeout=0.1)
            if msg is None:
                continue
            key = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
            seen[key] = seen.get(key, 0) + 1
            if msg.is_extended_id and msg.arbitration_id == 0x1826F456:
                # BHM: max charging voltage 426.1 V (0x10A5, LSB first).
                bhm = can.Message(arbitration_id=0x182756F4, data=[0xA5, 0x10], is_extended_id=True)
                bus.send(bhm)
                sent += 1
    finally:
        bus.shutdown()
    print(json.dumps({"seen": seen, "bhm_sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
