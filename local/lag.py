"""How far consumer groups are behind: committed offsets against the end of each partition."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def _ends(admin: AIOKafkaAdminClient, bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    described = await admin.describe_topics(topics) if topics else []
    parts = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return await consumer.end_offsets(parts) if parts else {}
    finally:
        await consumer.stop()


async def ends(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """Where each partition of the topics ends now: the records after it are the ones still to come."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await _ends(admin, bootstrap, topics)
    finally:
        await admin.close()


async def lag(bootstrap: str, reads: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Records each group (key) still has to consume over its topics (value)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        end = await _ends(admin, bootstrap, sorted({t for ts in reads.values() for t in ts}))
        behind = {}
        for group, topics_read in reads.items():
            done = {(tp.topic, tp.partition): m.offset for tp, m in (await admin.list_consumer_group_offsets(group)).items()}
            behind[group] = sum(max(0, e - max(done.get((tp.topic, tp.partition), 0), 0))
                                for tp, e in end.items() if tp.topic in topics_read)
        return behind
    finally:
        await admin.close()
