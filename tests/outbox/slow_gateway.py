"""A slow SMS gateway for the killed-dispatcher test: the file gateway with pauses around the hand-over.

Named in settings as ``slow_gateway:make`` (the test puts this folder on PYTHONPATH). The pause
after the write widens the window in which a kill leaves a message handed over but not recorded.
"""

from __future__ import annotations

import os
import time

from bankcrm.config import Settings
from bankcrm.outbox.gateways import FileGateway, OutgoingMessage, outbox_dir


class SlowFileGateway(FileGateway):
    def send(self, message: OutgoingMessage) -> str:
        time.sleep(0.03)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # every call, so the test can tell a repeated hand-over from the gateway's own dedup
        with (self.path.parent / "calls.log").open("a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {message.idempotency_key}\n")
        gateway_id = super().send(message)
        time.sleep(0.12)
        return gateway_id


def make(settings: Settings, channel: str) -> FileGateway:
    return SlowFileGateway(outbox_dir(settings) / f"{channel}.jsonl", channel)
