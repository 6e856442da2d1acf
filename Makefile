# Conveniences; the README's commands (bash scripts/…) need no make.
.PHONY: run test bench screenshots package
run: ; bash scripts/run.sh
test: ; bash scripts/test.sh
bench: ; bash scripts/bench.sh
screenshots: ; bash scripts/bootstrap.sh test && QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py
package: ; bash scripts/package.sh
