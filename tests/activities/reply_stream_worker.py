"""A worker process running only `Speaker`'s activity, for the test that kills it mid-stream.

python -m tests.activities.reply_stream_worker ADDRESS NAMESPACE TASK_QUEUE SECRET
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from activities.reply_stream import ReplyPublisher
from tests.activities.reply_stream_workflows import Speaker
from tests.support.payload_keys import TEST_DATA_CONVERTER


async def main(address: str, namespace: str, task_queue: str, secret: str) -> None:
    client = await Client.connect(address, namespace=namespace, data_converter=TEST_DATA_CONVERTER)
    async with ReplyPublisher(secret) as publisher:
        worker = Worker(
            client,
            task_queue=task_queue,
            activities=[Speaker(publisher).speak],
        )
        print("ready", flush=True)
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
