# SPDX-License-Identifier: MIT
"""w5_py.py — W5's Python echo servers: asyncio Protocol (data_received →
transport.write) or streams (asyncio.start_server, one task per
connection, read(65536) → write → await drain()), on the stock loop or on
uvloop, both from this one source.

    python3 w5_py.py asyncio|uvloop protocol|streams [--port N]
"""
import asyncio
import os
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def echo_stream(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(mode, port):
    loop = asyncio.get_running_loop()
    if mode == "protocol":
        server = await loop.create_server(Echo, "127.0.0.1", port)
    else:
        server = await asyncio.start_server(echo_stream, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"LISTEN port={bound} pid={os.getpid()}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("asyncio", "uvloop") or sys.argv[2] not in (
        "protocol",
        "streams",
    ):
        sys.exit("usage: w5_py.py asyncio|uvloop protocol|streams [--port N]")
    if sys.argv[1] == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    asyncio.run(main(sys.argv[2], port))
