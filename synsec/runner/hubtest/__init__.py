"""`ccscli hubtest`: CrowdSec hub tests (`.tests/NAME/`: config.yaml, a log, parser.assert, scenario.assert)
run on synsec's engine, with the parser results per stage and node and the overflows as CrowdSec records them."""

from synsec.runner.hubtest.asserts import AssertFail, AssertReport, check_file, check_lines
from synsec.runner.hubtest.config import TestConfig, find_tests, read_config, tests_dir
from synsec.runner.hubtest.run import HubTestRunner, TestRun

__all__ = ["AssertFail", "AssertReport", "check_file", "check_lines", "TestConfig", "find_tests", "read_config",
           "tests_dir", "HubTestRunner", "TestRun"]
