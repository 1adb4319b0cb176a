"""The wire format shared by every process: Avro codecs and records of the topics, the schema registry, and the
settings that reach a Kafka cluster. Imported by the runners, the topology and the connectors; imports only the
engine."""
