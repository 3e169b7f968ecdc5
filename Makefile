# The two commands of the README: `make run` (local stack with a demo tenant) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

STAGE ?= dev
OUT := out/$(STAGE)

.PHONY: run test lint bench fire clean package deploy

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m infra.local

test: $(STAMP) lint
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check --output-format concise .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.stack
	$(PY) -m bench.sync

fire: $(STAMP)
	$(PY) -m infra.local fire $(NAME)

# One template for the whole stage (infra/package.py; docs/operations.md): out/<stage>/sam.yaml.
package: $(STAMP)
	$(PY) -m infra.package --stage $(STAGE) $(OUT)
	$(VENV)/bin/cfn-lint $(OUT)/sam.yaml

# Upload the code to ARTIFACTS (an S3 bucket of the account) and deploy the stack with the AWS CLI's
# credentials. PARAMS: the stage's settings, e.g. PARAMS="PublicUrl=https://api.example.com
# AlarmEmail=ops@example.com CorsOrigin=https://app.example.com".
deploy: package
	@test -n "$(ARTIFACTS)" || (echo "ARTIFACTS=<an S3 bucket for the code> is needed" && exit 2)
	aws cloudformation package --template-file $(OUT)/sam.yaml --s3-bucket $(ARTIFACTS) \
		--s3-prefix crmerp-$(STAGE) --output-template-file $(OUT)/packaged.yaml
	aws cloudformation deploy --template-file $(OUT)/packaged.yaml --stack-name crmerp-$(STAGE) \
		--capabilities CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		--parameter-overrides $(PARAMS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .local out
