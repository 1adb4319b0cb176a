.PHONY: demo test bench lint bench-api bench-topology bench-crowd bench-crowd-topology coverage fuzz
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/venv.sh test && .venv/bin/python bench/replay.py
lint:
	bash scripts/venv.sh && .venv/bin/ccscli lint
bench-api:
	@command -v wrk >/dev/null || echo "bench-api: wrk is not installed (apt-get install -y wrk); using the aiohttp load generator, whose own overhead inflates the latencies" >&2
	bash scripts/venv.sh test && .venv/bin/python bench/api.py
bench-topology:
	bash scripts/venv.sh test && .venv/bin/python bench/topology.py
bench-crowd:
	bash scripts/venv.sh test && .venv/bin/python bench/crowd.py
bench-crowd-topology:
	bash scripts/venv.sh test && .venv/bin/python bench/crowd.py --topology
coverage:
	bash scripts/venv.sh test && .venv/bin/python bench/ootb_coverage.py
fuzz:
	bash scripts/venv.sh test && SYNSEC_FUZZ_LONG=1 .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/fuzz
