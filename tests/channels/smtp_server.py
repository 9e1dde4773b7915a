"""An SMTP server for tests: aiosmtpd on loopback, one .eml file per message.

Run as ``python -m tests.channels.smtp_server PORT DIRECTORY``; it prints "ready"
once it listens, and stops on SIGTERM.
"""

import signal
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = self.directory / f"{self.count:04d}.eml"
        header = "X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n"
        name.write_bytes(header.encode() + envelope.original_content)
        return "250 Message accepted for delivery"


def main() -> None:
    port, directory = int(sys.argv[1]), Path(sys.argv[2])
    controller = Controller(SaveToDirectory(directory), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *args: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
