"""How far consumer groups are behind: committed offsets against the end of each partition."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def lag(bootstrap: str, reads: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Records each group (key) still has to consume over its topics (value)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        topics = sorted({t for ts in reads.values() for t in ts})
        described = await admin.describe_topics(topics) if topics else []
        parts = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        ends = await consumer.end_offsets(parts) if parts else {}
        behind = {}
        for group, topics_read in reads.items():
            done = {(tp.topic, tp.partition): m.offset for tp, m in (await admin.list_consumer_group_offsets(group)).items()}
            behind[group] = sum(max(0, end - max(done.get((tp.topic, tp.partition), 0), 0))
                                for tp, end in ends.items() if tp.topic in topics_read)
        return behind
    finally:
        await consumer.stop()
        await admin.close()
