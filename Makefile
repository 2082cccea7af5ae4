# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv in this checkout and install what they need into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAGE ?= dev

.PHONY: run test install browser unit integration e2e package checkov deploy deploy-preflight bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# checkov (the packaged template's static checks) lives in a virtual environment of its own: it pins boto3
# and other libraries that the runner pins differently (requirements-checkov.txt).
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
$(CHECKOV): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV)

run: $(STAMP)
	$(PY) -m local.cli serve $(ARGS)

# The whole suite, on every core (pytest-xdist); `make unit` is the seconds-long loop while working.
test: $(STAMP) $(CHECKOV) browser
	$(PY) -m pytest -q -n auto tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q -n auto tests/integration

e2e: $(STAMP) $(CHECKOV) browser
	$(PY) -m pytest -q -n auto tests/e2e

# The admin page's browser tests drive Debian's Chromium with Playwright (which never downloads a browser
# of its own). Installed here when missing: as root with apt-get, otherwise through sudo without a prompt.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium package for the admin page's browser tests..."; \
		if [ "$$(id -u)" = 0 ]; then as_root=""; else as_root="sudo -n"; fi; \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || { \
			echo "error: could not install chromium; install it (apt-get install chromium) and run make test again" >&2; \
			exit 2; }; }

# The Lambda package and its CloudFormation template, in build/package/. Chalice zips only app.py,
# chalicelib/ and vendor/; the system templates live in chalicelib/templates/ and ship with it. The functions
# run Python 3.13 (infra/package.py): Chalice vendors the wheels of that runtime whatever Python runs the
# build. infra.template completes Chalice's template (tables, queues, roles, alarms...); infra.bytecode adds
# compiled modules, which a read-only Lambda would otherwise compile at every cold start. Bytecode is per
# Python version, so it is compiled by a Python 3.13 (on the PATH or under pyenv); without one the package
# ships sources only, and says so. No AWS credentials.
BUILD ?= build
RUNTIME_PYTHON ?= $(shell $(PY) -m infra.package --runtime-python)
package: $(STAMP)
	rm -rf $(BUILD)/chalice $(BUILD)/package
	mkdir -p $(BUILD)/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(PY) -m infra.package --stage $(STAGE) $(BUILD)/chalice
	$(PY) -m infra.template --stage $(STAGE) $(BUILD)/chalice/sam.json > $(BUILD)/package/template.json
	@if [ -n "$(RUNTIME_PYTHON)" ]; then \
		echo "$(RUNTIME_PYTHON) -m infra.bytecode ..."; \
		$(RUNTIME_PYTHON) -m infra.bytecode $(BUILD)/chalice/sam.json $(BUILD)/chalice/deployment.zip $(BUILD)/package/deployment.zip; \
	else \
		echo "warning: no Python 3.13 on this machine: the package ships sources only, and each cold start compiles what it imports" >&2; \
		cp $(BUILD)/chalice/deployment.zip $(BUILD)/package/deployment.zip; \
	fi

# checkov on the packaged template, offline: every finding is fixed or accepted in the template with its reason
# (infra/template.py, CHECKOV_ACCEPTED). tests/e2e/test_package.py runs the same check in `make test`.
checkov: package $(CHECKOV)
	$(CHECKOV) -f $(BUILD)/package/template.json --framework cloudformation --skip-download --quiet --compact

# The benchmarks (bench/run.py): read amplification, AWS calls per send, pipeline overhead, cold start,
# test-run latency, the cost on paper, faults, the scale model, segments and campaigns at 100,000 customers,
# written to BENCHMARKS.md. About 30 minutes; not part of `test`.
bench: package
	$(PY) -m bench.run

# Deploy the package to the AWS account of the current credentials (see docs/operations.md).
#   make deploy STAGE=prod BUCKET=<S3 bucket for the package> PARAMS="SenderIdentity=store.example AlarmEmail=ops@store.example"
AWS ?= aws
STACK ?= automations-$(STAGE)
deploy: deploy-preflight package
	$(AWS) cloudformation package --template-file $(BUILD)/package/template.json --s3-bucket $(BUCKET) \
		--s3-prefix $(STACK) --output-template-file $(BUILD)/package/packaged.json
	$(AWS) cloudformation deploy --template-file $(BUILD)/package/packaged.json --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		$(if $(PARAMS),--parameter-overrides $(PARAMS))
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --query "Stacks[0].Outputs" --output table

deploy-preflight:
	@test -n "$(BUCKET)" || { echo "error: BUCKET=<an S3 bucket in the stack's region for the Lambda package> is required" >&2; exit 2; }
	@command -v $(AWS) >/dev/null || { echo "error: the AWS CLI ($(AWS)) is not installed: https://aws.amazon.com/cli/" >&2; exit 2; }

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .local .pytest_cache .hypothesis vendor build test-output
