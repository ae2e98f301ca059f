# The two set-up commands are `make run` and `make test`; both work from a bare clone.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: run test bench token openapi setup rebuild-aggregates package

$(STAMP): requirements.txt requirements-dev.txt devtools/bootstrap.sh
	bash devtools/bootstrap.sh
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)  ## API on http://127.0.0.1:8000 with demo data, on an embedded AWS
	$(PY) -m devtools.run_local

test: $(STAMP)  ## lint, format, types (mypy), then the whole suite: unit, functional (moto), end-to-end (real local server)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

bench: $(STAMP)  ## prints the benchmark table
	$(PY) -m devtools.bench

token: $(STAMP)  ## make token ROLE=engineer [SUB=eng-1]; ROLE=school_staff SCHOOL=<school_id>
	$(PY) -m devtools.token --role $(ROLE) $(if $(SUB),--sub $(SUB),) $(if $(SCHOOL),--school $(SCHOOL),)

openapi: $(STAMP)  ## regenerate mobile_api_docs/openapi.yaml from the routes and schemas
	$(PY) -m devtools.openapi

rebuild-aggregates: $(STAMP)  ## recompute the report aggregates from the tickets; ENDPOINT=http://127.0.0.1:<moto port> for `make run`'s stack, STAGE=<stage> for its table prefix
	$(PY) -m devtools.rebuild_aggregates --stage $(or $(STAGE),local) $(if $(ENDPOINT),--endpoint $(ENDPOINT),)

package: $(STAMP)  ## make package REGION=cn-north-1 [STAGE=prod]: out/<region>/ (SAM template, zip), then cfn-lint and checkov
	$(PY) -m devtools.package --stage $(or $(STAGE),prod) --region $(or $(REGION),$(error set REGION, e.g. REGION=cn-north-1)) --lint
