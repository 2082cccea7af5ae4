# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv in this checkout and install what they need into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAGE ?= dev

.PHONY: run test install unit integration e2e package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.cli serve $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

# The Lambda package and its CloudFormation template, in build/. Chalice zips only app.py,
# chalicelib/ and vendor/, so the system templates are copied into vendor/ first: they land
# at the zip's root as templates/, beside app.py, where chalicelib.templating looks for them.
package: $(STAMP)
	rm -rf vendor/templates build/package
	mkdir -p vendor build
	cp -R templates vendor/templates
	$(PY) -m infra.template --stage $(STAGE) > build/resources.json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template build/resources.json build/package

clean:
	rm -rf $(VENV) .local .pytest_cache .hypothesis vendor build
