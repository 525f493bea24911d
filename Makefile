# Each target installs what it needs first (scripts/setup.sh), so both work on a fresh machine.
.PHONY: test demo build setup clean

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh

build:
	./scripts/build.sh

setup:
	./scripts/setup.sh

clean:
	rm -rf pkg .run www/config.js
	cargo clean
