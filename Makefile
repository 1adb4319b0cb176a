.PHONY: demo test bench lint bench-api bench-topology
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/venv.sh test && .venv/bin/python bench/replay.py
lint:
	bash scripts/venv.sh && .venv/bin/ccscli lint
bench-api:
	bash scripts/venv.sh test && .venv/bin/python bench/api.py
bench-topology:
	bash scripts/venv.sh test && .venv/bin/python bench/topology.py
