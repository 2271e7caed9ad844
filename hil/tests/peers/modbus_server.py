#!/usr/bin/env python3
"""A pymodbus simulator standing in for a real meter in chargestorm's Modbus client tests.

Usage: modbus_server.py SPEC_JSON
SPEC: {"transport": "tcp", "port": 1502 | "transport": "rtu", "device": "/tmp/x",
       "baudrate": 9600, "unit": 1,
       "blocks": [{"address": 8192, "type": "float32" | "uint16" | "uint32",
                   "values": [230.1, ...]}]}
Registers are shared by FC03 and FC04 (pymodbus SimDevice default). Runs until killed.
"""

import asyncio
import json
import sys

from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

TYPES = {"float32": DataType.FLOAT32, "uint16": DataType.UINT16, "uint32": DataType.UINT32,
         "int16": DataType.INT16}


async def main():
    spec = json.loads(sys.argv[1])
    blocks = [SimData(address=b["address"], values=b["values"], datatype=TYPES[b["type"]])
              for b in spec["blocks"]]
    device = SimDevice(id=int(spec["unit"]), simdata=blocks)
    if spec["transport"] == "tcp":
        await StartAsyncTcpServer(context=device, address=("127.0.0.1", int(spec["port"])))
    else:
        await StartAsyncSerialServer(context=device, port=spec["device"],
                                     baudrate=int(spec.get("baudrate", 9600)))


if __name__ == "__main__":
    asyncio.run(main())
