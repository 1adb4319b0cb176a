"""The pure detection engine: no I/O, no clock, no Kafka. See tests/unit/test_purity.py."""
