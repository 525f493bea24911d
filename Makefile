# Each target installs what it needs first (scripts/setup.sh), so both work on a fresh machine.
.PHONY: test test-big bench demo build setup clean

test:
	./scripts/test.sh

# The 1 GiB download interrupted three times, and persisted throughput by chunk size
# (about two minutes on top of `make test`), in Chromium unless ENGINES names others.
test-big:
	ENGINES="$${ENGINES:-chromium}" BROWSER_TESTS="--test browser_big --test browser_chunk_sizes" ./scripts/test.sh

# The library against hand-written baselines, side by side in one run (a few minutes).
bench:
	./scripts/bench.sh

demo:
	./scripts/demo.sh

build:
	./scripts/build.sh

setup:
	./scripts/setup.sh

clean:
	rm -rf pkg .run www/config.js
	cargo clean
