# GoTicket Platform. `make` lists the targets. The quick start is `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK ?= dev
NPX := npx --no-install

.PHONY: _need-pulumi help install run dev build test test-unit test-integration lint fmt typecheck synth drift \
        policy contracts rehearse bench seal deps-up deps-down kind-up kind-down kind-load smoke preview up destroy image system-deps

help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Install only when package.json or the lock changed since the last install. The script is the one
# way dependencies get installed (here, so in CI through .github/actions/setup, and in the
# Dockerfile): npm ci, and npm install --no-save from the same lock only when npm ci refuses it for
# lacking other platforms' optional packages. npm ci's postinstall applies patches/ (patch-package:
# fixes to dependencies that upstream has not released yet, listed in README).
node_modules/.install-stamp: package.json package-lock.json $(wildcard patches/*.patch)
	@bash scripts/npm-install-locked.sh
	@touch $@

install: node_modules/.install-stamp ## Install npm dependencies (only when package-lock.json changed)

system-deps: ## Install the Debian tools the tests use (promtool, chromium, shellcheck) when missing
	@bash scripts/system-deps.sh

build: install ## Compile the service to build/app
	@rm -rf build/app
	$(NPX) tsc -p tsconfig.build.json
	@node scripts/copy-assets.js

# make run's first step, before make build replaces build/app under a running instance: when another
# instance holds the data folder, scripts/instance-check.ts's one line as make's one-line stop (tsx
# itself, not npx: npx's update notice would join the line).
instance-held = $(shell out=$$(node_modules/.bin/tsx scripts/instance-check.ts 2>&1) || echo "$$out")

run: install ## Build, migrate and start the service on :8080 (embedded PostgreSQL, memory stand-ins unless *_URL set)
	$(eval held := $(instance-held))$(if $(held),$(error $(held)))
	@$(MAKE) --no-print-directory build
	node build/app/main.js all

dev: install ## Start the service in watch mode (restarts on change)
	$(NPX) tsx watch app/src/main.ts all

# What `prettier --check` covers (.prettierrc.json: 140 columns): every source and JSON file but what
# .prettierignore names (generated or owned by a tool).
FORMATTED ?= '**/*.{ts,js,mjs,cjs,json}'

lint: install ## eslint (typescript-eslint recommendedTypeChecked + layer boundaries), knip (dead files and exports), prettier --check
	$(NPX) eslint --max-warnings 0 .
	$(NPX) knip --no-progress
	$(NPX) prettier --check --log-level warn $(FORMATTED)

fmt: install ## Fix what eslint can fix and format what prettier checks
	$(NPX) eslint --fix .
	$(NPX) prettier --write --log-level warn $(FORMATTED)

typecheck: install ## tsc --noEmit over app, charts, infra, policies, bench
	$(NPX) tsc --noEmit -p tsconfig.json

JEST := $(NPX) jest --ci --maxWorkers=2 --json --outputFile=build/jest-results.json

test: install system-deps ## Everything: services up, lint, type-check, synth drift, policy, jest; ends with "N passed, M failed"
	@bash scripts/ensure-services.sh
	$(MAKE) --no-print-directory lint typecheck drift policy contracts rehearse
	@mkdir -p build
	@status=0; $(JEST) || status=$$?; node scripts/jest-summary.js build/jest-results.json; exit $$status

test-unit: install ## Unit tests only (no servers needed)
	$(NPX) jest --maxWorkers=2 app/test/unit

test-integration: install ## Integration and e2e tests against the local PostgreSQL, Redis, RabbitMQ
	@bash scripts/ensure-services.sh
	$(NPX) jest --maxWorkers=2 app/test/integration app/test/e2e

synth: install ## Synthesize the Kubernetes manifests into dist/<env>/ and dist/helm/
	npm run --silent synth

drift: install ## Fail when the committed dist/ differs from a fresh synth
	@bash scripts/drift.sh

policy: install ## Run the policy pack's Kubernetes rules over dist/
	npm run --silent policy:manifests -- dist

rehearse: install ## Deploy rehearsal, no cluster needed: synth, promote on a copy, image chain, both stacks' config, policy, e2e-kind dry run
	@$(NPX) tsx scripts/rehearse.ts

contracts: install ## Lint the published API contracts: OpenAPI (Spectral oas + OWASP, Redocly), GraphQL (graphql-eslint), protos (buf lint + breaking vs main)
	npm run --silent lint:contracts

bench: build ## Run the benchmarks (bench/README.md); BENCH_ARGS=--quick for a smoke run
	@bash scripts/ensure-services.sh
	npm run --silent bench -- $(BENCH_ARGS)

seal: install ## Seal a secret: make seal ENV=dev NAME=smtp KEY=SMTP_URL < value
	@test -n "$(ENV)" -a -n "$(NAME)" -a -n "$(KEY)" || { echo "usage: make seal ENV=dev NAME=<secret> KEY=<KEY> < value"; exit 2; }
	npm run --silent seal -- --env $(ENV) --name $(NAME) --key $(KEY)

# $(call need,<check>,<message>): a target whose tool is missing stops with one line saying what to
# install. Recipe lines are all expanded before the first one runs, so nothing has started yet.
need = $(if $(shell $(1) >/dev/null 2>&1 && echo ok),,$(error $(2)))
DOCKER_ENGINE = https://docs.docker.com/engine/install/
need-docker = $(call need,command -v docker,docker is not installed: install Docker Engine ($(DOCKER_ENGINE)))
need-docker-engine = $(call need,docker info,the Docker engine does not answer: start it or install Docker Engine ($(DOCKER_ENGINE)))
need-compose = $(call need,docker compose version,docker compose is not installed: install the Docker Compose plugin (https://docs.docker.com/compose/install/linux/))
need-buildx = $(call need,docker buildx version,docker buildx is not installed: install the Docker Buildx plugin (https://github.com/docker/buildx))
need-kind = $(call need,command -v kind,kind is not installed: install kind (https://kind.sigs.k8s.io/docs/user/quick-start/))
# The oldest kind that enforces NetworkPolicies: read from the KindCluster component, the one place it is set.
KIND_MIN_VERSION := $(shell sed -nE "s/^export const KIND_MIN_VERSION = '([0-9.]+)';/\1/p" infra/components/kind-cluster.ts)
need-kind-version = $(call need,printf '%s\n' $(KIND_MIN_VERSION) "$$(kind version | grep -oE '[0-9]+[.][0-9]+[.][0-9]+' | head -n 1)" | sort -V -C,kind >= $(KIND_MIN_VERSION) is required: older kind does not enforce NetworkPolicies (https://kind.sigs.k8s.io/docs/user/quick-start/))
need-pulumi = $(call need,command -v pulumi,pulumi is not installed: install the Pulumi CLI (https://www.pulumi.com/docs/install/))

# The image chain (README "Environments and deployment"): `make kind-load` builds and loads exactly the
# image dist/dev runs (charts/environments.ts, dev.image), pulled Never when it is the local build.
# scripts/lib/image-chain.ts (make rehearse, scripts/test/image-chain.test.ts) checks both agree.
DEV_IMAGE = $(shell sed -nE 's/^ +image: ([^ ]+\/goticket[:@][^ ]+)$$/\1/p' dist/dev/Deployment.goticket-api.k8s.yaml | head -n 1)
LOCAL_TAG := $(shell sed -nE "s/^export const LOCAL_TAG = '([^']+)';/\1/p" charts/environments.ts)
IMAGE ?= $(DEV_IMAGE)
KIND_CLUSTER := goticket

deps-up: ## Start PostgreSQL, Redis and RabbitMQ in Docker (docker compose)
	$(need-docker)
	$(need-compose)
	$(need-docker-engine)
	docker compose up -d --wait postgres redis rabbitmq

deps-down: ## Stop the Docker dependencies
	$(need-docker)
	$(need-compose)
	$(need-docker-engine)
	docker compose down

kind-up: ## Create the local Kind cluster (infra/kind-config.yaml)
	$(need-kind)
	$(need-kind-version)
	$(need-docker)
	$(need-docker-engine)
	kind create cluster --name $(KIND_CLUSTER) --config infra/kind-config.yaml

kind-down: ## Delete the local Kind cluster
	$(need-kind)
	kind delete cluster --name $(KIND_CLUSTER)

# A prerequisite runs before its target's recipe is expanded: the tool is checked by a prerequisite
# of its own, listed before install, so a missing pulumi stops before npm install starts.
_need-pulumi:
	$(need-pulumi)

preview: _need-pulumi install ## pulumi preview for STACK (dev|prod) with the policy pack
	pulumi preview --stack $(STACK) --policy-pack policies

up: _need-pulumi install ## pulumi up for STACK (dev|prod) with the policy pack
	pulumi up --stack $(STACK) --policy-pack policies

destroy: ## pulumi destroy for STACK (dev|prod)
	$(need-pulumi)
	pulumi destroy --stack $(STACK)

image: ## Build the service image dist/dev runs (ghcr.io/goticket-platform/goticket:local; IMAGE=… for another tag) with BuildKit and OCI labels
	$(if $(findstring @,$(IMAGE)),$(error $(IMAGE) pins a digest: a local build cannot have it (IMAGE=<repository>:<tag>)))
	$(need-docker)
	$(need-buildx)
	$(need-docker-engine)
	docker buildx build --load -t $(IMAGE) \
	  --build-arg VERSION=$$(node -p "require('./package.json').version") \
	  --build-arg REVISION=$$(git rev-parse HEAD) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) .

kind-load: ## Build the image dist/dev runs and load it into the Kind cluster
	$(if $(filter %:$(LOCAL_TAG),$(IMAGE)),,$(error dist/dev runs the release $(IMAGE), which Kind pulls from its registry: nothing to build. For a local build: npm run promote -- --env dev --image $(firstword $(subst :, ,$(subst @, ,$(IMAGE)))):$(LOCAL_TAG)))
	$(need-kind)
	$(need-docker)
	$(need-docker-engine)
	@$(MAKE) --no-print-directory image IMAGE=$(IMAGE)
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

smoke: install ## E2E journey + booking burst against BASE_URL (SMOKE_ADMIN_EMAIL/SMOKE_ADMIN_PASSWORD)
	@test -n "$(BASE_URL)" || { echo "usage: make smoke BASE_URL=https://goticket.localtest.me"; exit 2; }
	BASE_URL=$(BASE_URL) $(NPX) tsx scripts/smoke.ts
