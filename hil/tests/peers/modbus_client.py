#!/usr/bin/env python3
"""A pymodbus client for chargestorm's Modbus tests: reads registers from Modbus TCP or RTU
targets and prints one JSON document with what each read returned.

Usage: modbus_client.py SPEC_JSON
SPEC: {"targets": [{"transport": "tcp", "host": "127.0.0.1", "port": 1502,
                    | "transport": "rtu", "device": "/tmp/x", "baudrate": 9600,
                      "parity": "N", "stopbits": 1,
                    "timeout": 0.5,
                    "reads": [{"unit": 1, "fc": 3, "address": 8192, "count": 2,
                               "type": "float32" | "uint32" | "int32" | "uint16" | "int16"
                                        | "raw", "word_order": "big" | "little",
                               "sleep_before": 0.0}]}]}
Output: {"results": [[{"registers": [...], "values": [...], "elapsed": s}
                      | {"exception": code, "elapsed": s}
                      | {"error": "...", "elapsed": s}, ...], ...]}
"""

import json
import sys
import time

from pymodbus.client import ModbusSerialClient, ModbusTcpClient


def make_client(target):
    timeout = float(target.get("timeout", 1.0))
    if target["transport"] == "tcp":
        return ModbusTcpClient(target.get("host", "127.0.0.1"), port=int(target["port"]),
                               timeout=timeout, retries=0)
    return ModbusSerialClient(target["device"], baudrate=int(target.get("baudrate", 9600)),
                              parity=target.get("parity", "N"),
                              stopbits=int(target.get("stopbits", 1)), bytesize=8,
                              timeout=timeout, retries=0)


TYPES = {"float32": "FLOAT32", "uint32": "UINT32", "int32": "INT32", "uint16": "UINT16",
         "int16": "INT16"}


def decode(client, registers, kind, word_order):
    if kind == "raw":
        return list(registers)
    data_type = getattr(client.DATATYPE, TYPES[kind])
    values = client.convert_from_registers(list(registers), data_type=data_type,
                                           word_order=word_order)
    return values if isinstance(values, list) else [values]


def read_one(client, read):
    fn = client.read_holding_registers if read["fc"] == 3 else client.read_input_registers
    start = time.monotonic()
    try:
        rr = fn(read["address"], count=read["count"], device_id=read["unit"])
    except Exception as error:  # pymodbus raises ModbusIOException on silence
        return {"error": f"{type(error).__name__}: {error}", "elapsed": time.monotonic() - start}
    elapsed = time.monotonic() - start
    if rr.isError():
        code = getattr(rr, "exception_code", None)
        if code is not None:
            return {"exception": int(code), "elapsed": elapsed}
        return {"error": str(rr), "elapsed": elapsed}
    kind = read.get("type", "raw")
    values = decode(client, rr.registers, kind, read.get("word_order", "big"))
    return {"registers": list(rr.registers), "values": values, "elapsed": elapsed}


def main():
    spec = json.loads(sys.argv[1])
    results = []
    for target in spec["targets"]:
        client = make_client(target)
        if not client.connect():
            results.append([{"error": "connect failed"} for _ in target["reads"]])
            continue
        out = []
        for read in target["reads"]:
            time.sleep(float(read.get("sleep_before", 0.0)))
            out.append(read_one(client, read))
        client.close()
        results.append(out)
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
