"""Required-field schemas for the Strimzi and CloudNativePG custom resources, which no package registry
ships as CRDs. Transcribed from the operators' API references (Strimzi 0.49 `io.strimzi:api`, whose model
classes were checked for these field names; CloudNativePG 1.27 and its Barman Cloud plugin): they hold
what each operator requires, the enums it accepts, and, for the small objects we generate, no field
beyond the known ones, so a typo fails here instead of being silently pruned by the API server."""
from __future__ import annotations

from typing import Any

QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"}
RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "requests": {"type": "object", "properties": {"cpu": QUANTITY, "memory": QUANTITY}},
        "limits": {"type": "object", "properties": {"cpu": QUANTITY, "memory": QUANTITY}},
    },
}
SECRET_KEY = {
    "type": "object",
    "required": ["name", "key"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
}


def _resource(group_version: str, kind: str, spec: dict, *, strimzi_cluster: bool = False) -> dict:
    metadata: dict[str, Any] = {"type": "object", "required": ["name"]}
    if strimzi_cluster:
        # Strimzi's operators only act on resources labelled with the cluster they belong to.
        metadata = {**metadata, "required": ["name", "labels"],
                    "properties": {"labels": {"type": "object", "required": ["strimzi.io/cluster"]}}}
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": group_version},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
    }


_LISTENER = {
    "type": "object",
    "required": ["name", "port", "type", "tls"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
        "port": {"type": "integer", "minimum": 9092},
        "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
        "tls": {"type": "boolean"},
        "authentication": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["tls", "scram-sha-512", "oauth", "custom"]}},
        },
        "configuration": {"type": "object"},
        "networkPolicyPeers": {"type": "array", "items": {"type": "object"}},
    },
}

_ACL = {
    "type": "object",
    "required": ["resource", "operations"],
    "additionalProperties": False,
    "properties": {
        "resource": {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                "name": {"type": "string"},
                "patternType": {"enum": ["literal", "prefix"]},
            },
        },
        "operations": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": ["Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                               "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"]},
        },
        "host": {"type": "string"},
        "type": {"enum": ["allow", "deny"]},
    },
}

_JBOD = {
    "type": "object",
    "required": ["type", "volumes"],
    "properties": {
        "type": {"const": "jbod"},
        "volumes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "size"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer", "minimum": 0},
                    "type": {"enum": ["persistent-claim", "ephemeral"]},
                    "size": QUANTITY,
                    "kraftMetadata": {"const": "shared"},
                    "deleteClaim": {"type": "boolean"},
                    "class": {"type": "string"},
                },
            },
        },
    },
}

_PLUGIN_REF = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}

SCHEMAS: dict[tuple[str, str], dict] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): _resource("kafka.strimzi.io/v1beta2", "Kafka", {
        "type": "object",
        "required": ["kafka"],
        "properties": {
            "kafka": {
                "type": "object",
                "required": ["listeners"],
                "properties": {
                    "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                    "listeners": {"type": "array", "minItems": 1, "items": _LISTENER},
                    "authorization": {"type": "object", "required": ["type"],
                                      "properties": {"type": {"enum": ["simple", "opa", "keycloak", "custom"]}}},
                    "config": {"type": "object"},
                    "metricsConfig": {
                        "type": "object",
                        "required": ["type", "valueFrom"],
                        "properties": {"type": {"const": "jmxPrometheusExporter"},
                                       "valueFrom": {"type": "object", "required": ["configMapKeyRef"]}},
                    },
                },
            },
            "entityOperator": {"type": "object", "properties": {"topicOperator": {"type": "object"},
                                                                "userOperator": {"type": "object"}}},
            "kafkaExporter": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"groupRegex": {"type": "string"}, "topicRegex": {"type": "string"},
                               "groupExcludeRegex": {"type": "string"}, "topicExcludeRegex": {"type": "string"},
                               "resources": RESOURCES},
            },
        },
    }),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): _resource("kafka.strimzi.io/v1beta2", "KafkaNodePool", {
        "type": "object",
        "required": ["replicas", "storage", "roles"],
        "additionalProperties": False,
        "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "roles": {"type": "array", "minItems": 1, "items": {"enum": ["controller", "broker"]}},
            "storage": _JBOD,
            "resources": RESOURCES,
            "jvmOptions": {"type": "object", "properties": {"-Xms": {"type": "string"}, "-Xmx": {"type": "string"}}},
            "template": {"type": "object"},
        },
    }, strimzi_cluster=True),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): _resource("kafka.strimzi.io/v1beta2", "KafkaTopic", {
        "type": "object",
        "required": ["partitions", "replicas"],
        "additionalProperties": False,
        "properties": {
            "topicName": {"type": "string"},
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object"},
        },
    }, strimzi_cluster=True),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): _resource("kafka.strimzi.io/v1beta2", "KafkaUser", {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "authentication": {"type": "object", "required": ["type"],
                               "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}}},
            "authorization": {"type": "object", "required": ["type", "acls"],
                              "properties": {"type": {"const": "simple"}, "acls": {"type": "array", "items": _ACL}}},
            "quotas": {"type": "object", "additionalProperties": False,
                       "properties": {k: {"type": "integer", "minimum": 0} for k in
                                      ("producerByteRate", "consumerByteRate", "requestPercentage",
                                       "controllerMutationRate")}},
            "template": {"type": "object"},
        },
    }, strimzi_cluster=True),
    ("postgresql.cnpg.io/v1", "Cluster"): _resource("postgresql.cnpg.io/v1", "Cluster", {
        "type": "object",
        "required": ["instances", "storage"],
        "properties": {
            "instances": {"type": "integer", "minimum": 1},
            "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
            "storage": {"type": "object", "required": ["size"], "properties": {"size": QUANTITY}},
            "bootstrap": {
                "type": "object",
                "properties": {
                    "initdb": {"type": "object", "required": ["database", "owner"],
                               "properties": {"database": {"type": "string"}, "owner": {"type": "string"}}},
                    "recovery": {"type": "object", "required": ["source"]},
                },
            },
            "postgresql": {"type": "object", "properties": {
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "resources": RESOURCES,
            "enablePDB": {"type": "boolean"},
            "managed": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"roles": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "ensure": {"enum": ["present", "absent"]},
                        "login": {"type": "boolean"},
                        "comment": {"type": "string"},
                        "inRoles": {"type": "array", "items": {"type": "string"}},
                        "passwordSecret": {"type": "object", "required": ["name"], "additionalProperties": False,
                                           "properties": {"name": {"type": "string"}}},
                    },
                }}},
            },
            "affinity": {"type": "object", "properties": {
                "podAntiAffinityType": {"enum": ["preferred", "required"]}}},
            "plugins": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "enabled": {"type": "boolean"},
                        "isWALArchiver": {"type": "boolean"},
                        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        },
    }),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): _resource("postgresql.cnpg.io/v1", "ScheduledBackup", {
        "type": "object",
        "required": ["schedule", "cluster"],
        "additionalProperties": False,
        "properties": {
            # Six fields, seconds first (robfig/cron as the operator parses it).
            "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
            "cluster": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            "immediate": {"type": "boolean"},
            "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
            "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
            "pluginConfiguration": _PLUGIN_REF,
        },
    }),
    ("barmancloud.cnpg.io/v1", "ObjectStore"): _resource("barmancloud.cnpg.io/v1", "ObjectStore", {
        "type": "object",
        "required": ["configuration"],
        "additionalProperties": False,
        "properties": {
            "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
            "configuration": {
                "type": "object",
                "required": ["destinationPath"],
                "properties": {
                    "destinationPath": {"type": "string", "pattern": "^s3://"},
                    "endpointURL": {"type": "string", "pattern": "^https://"},
                    "s3Credentials": {"type": "object", "required": ["accessKeyId", "secretAccessKey"],
                                      "properties": {"accessKeyId": SECRET_KEY, "secretAccessKey": SECRET_KEY}},
                    "wal": {"type": "object", "properties": {"compression": {"enum": ["gzip", "bzip2", "snappy"]},
                                                             "maxParallel": {"type": "integer", "minimum": 1}}},
                    "data": {"type": "object", "properties": {"compression": {"enum": ["gzip", "bzip2", "snappy"]},
                                                              "jobs": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    }),
}
