"""Each school system has its own Kafka principal (issue 15, acceptance 3; R15, R27): in every rendered overlay,
every school listed for it has exactly one KafkaUser, allowed to write the ingest topic and nothing else, and no
user shared by several schools remains. Which school a record speaks for is bound by the token it is signed with
(tests/security/test_ingest_binding.py); these users let one school be revoked or throttled alone."""
from __future__ import annotations

import re

from deploy.k8s import generate, manifests
from shared.contracts import topics as T
from tests.deploy.conftest import K8S, Rendered
from tests.deploy.test_invariants import grants

INGEST = {("topic", t, op) for t in T.EXTERNAL_PRODUCES.values() for op in ("Write", "Describe")}
# A DNS-1123 label: what a Secret's name and the label values Strimzi derives from the user's name accept.
K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def schools(rendered: Rendered) -> list[str]:
    return generate.school_ids(K8S / "overlays" / rendered.overlay / generate.SCHOOLS_FILE)


def school_users(rendered: Rendered) -> dict[str, list[dict]]:
    """The overlay's KafkaUsers that may write the ingest topic, by the school they are annotated with."""
    found: dict[str, list[dict]] = {}
    for user in rendered.of("KafkaUser"):
        if grants(user) & {("topic", t, "Write") for t in T.EXTERNAL_PRODUCES.values()}:
            school = user["metadata"].get("annotations", {}).get(manifests.SCHOOL_ID_ANNOTATION)
            found.setdefault(school, []).append(user)
    return found


def test_every_school_of_the_overlay_has_exactly_one_kafka_user_and_no_user_is_shared(rendered: Rendered) -> None:
    listed = schools(rendered)
    users = school_users(rendered)
    assert None not in users, f"an ingest writer names no school: {[u['metadata']['name'] for u in users.get(None, [])]}"
    assert sorted(users) == sorted(listed)
    assert {school: len(found) for school, found in users.items() if len(found) != 1} == {}
    assert not [u for u in rendered.of("KafkaUser") if u["metadata"]["name"] == "school-systems"], "the shared user is gone"
    if rendered.overlay == "city":
        assert len(listed) == 508


def test_a_school_systems_user_may_write_the_ingest_topic_and_nothing_else_under_its_own_quota(rendered: Rendered) -> None:
    for [user] in school_users(rendered).values():
        name = user["metadata"]["name"]
        assert grants(user) == INGEST, name
        assert user["spec"]["authentication"]["type"] == "scram-sha-512", name
        assert all(acl["resource"]["patternType"] == "literal" for acl in user["spec"]["authorization"]["acls"]), name
        assert user["spec"]["quotas"]["producerByteRate"] == manifests.SCHOOL_SYSTEMS_PRODUCER_BYTES_PER_SECOND, name


def test_school_systems_users_have_valid_distinct_names(rendered: Rendered) -> None:
    names = [u["metadata"]["name"] for [u] in school_users(rendered).values()]
    assert [n for n in names if not K8S_NAME.fullmatch(n)] == []
    assert len(set(names)) == len(names)


def test_ids_that_are_not_valid_names_still_get_valid_distinct_users() -> None:
    awkward = ["SCH_0001", "sch-0001", "sch 0001", "学校-7", "-", "x" * 200, "x" * 201, "Sch.0001"]
    names = [manifests.school_system_user_name(s) for s in awkward]
    assert [n for n in names if not K8S_NAME.fullmatch(n)] == []
    assert len(set(names)) == len(awkward)
    assert manifests.school_system_user_name("sch-0001") == "school-system-sch-0001", "a plain id keeps its name"


def test_the_broker_stamps_school_systems_records_with_the_time_it_appends_them(rendered: Rendered) -> None:
    # Attendance judges a record's token by the record's timestamp: a producer must not pick it.
    for topic in rendered.of("KafkaTopic"):
        stamped = topic["spec"]["config"].get("message.timestamp.type")
        if topic["spec"]["topicName"] in T.EXTERNAL_PRODUCES.values():
            assert stamped == "LogAppendTime"
        else:
            assert stamped is None, topic["spec"]["topicName"]
