# Composer (appc) with Terraform, for CI jobs:
#   docker build -t appc .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" -e COMPOSER_ENV=staging appc plan --format markdown
# (--user lets appc write .composer/ into the mounted checkout; the image's own user is appc, 10001).
# Stages: terraform (download and verify the release) -> builder (install appc into a venv)
# -> runtime (slim, non-root, ENTRYPOINT appc).

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# -- Terraform, from the official release, checksum- and signature-verified -------------
FROM ${PYTHON_IMAGE} AS terraform
ARG TERRAFORM_VERSION=1.11.4
# Set by BuildKit (amd64, arm64); the default serves the classic builder.
ARG TARGETARCH=amd64
# HashiCorp's release signing key, "HashiCorp Security <security@hashicorp.com>", as
# documented at https://www.hashicorp.com/security (key id 72D7468F). The signature must
# come from this primary key, wherever the key itself was fetched from.
ARG HASHICORP_KEY_FINGERPRINT=C874011F0AB405110D02105534365D9472D7468F
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg unzip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tmp/terraform
RUN set -eux; \
    base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}"; \
    zip="terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip"; \
    sums="terraform_${TERRAFORM_VERSION}_SHA256SUMS"; \
    curl -fsSLO "${base}/${zip}"; \
    curl -fsSLO "${base}/${sums}"; \
    curl -fsSLO "${base}/${sums}.sig"; \
    export GNUPGHOME="$(mktemp -d)"; \
    gpg --batch --keyserver hkps://keyserver.ubuntu.com --recv-keys "${HASHICORP_KEY_FINGERPRINT}" \
      || curl -fsSL https://www.hashicorp.com/.well-known/pgp-key.txt | gpg --batch --import; \
    gpg --batch --status-fd 1 --verify "${sums}.sig" "${sums}" > gpg.status; \
    grep -E "^\[GNUPG:\] VALIDSIG .* ${HASHICORP_KEY_FINGERPRINT}\$" gpg.status; \
    sha256sum -c --ignore-missing "${sums}"; \
    unzip -o "${zip}" terraform -d /usr/local/bin; \
    /usr/local/bin/terraform version

# -- appc, installed (not editable) into a venv -------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
# Extras to install, e.g. "[local]" for the embedded AWS emulator of sandbox environments.
ARG APPC_EXTRAS=""
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY composer ./composer
COPY providers ./providers
COPY modules ./modules
# The Terraform modules land in /opt/appc/share/appcomposer/modules ([tool.setuptools.data-files]),
# where providers/base.py::modules_root() looks for them in a non-editable install.
RUN python -m venv /opt/appc \
 && /opt/appc/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/appc/bin/pip install --no-cache-dir ".${APPC_EXTRAS}" \
 && /opt/appc/bin/appc def list > /dev/null

# -- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# git: Terraform fetches git:: module sources with it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin appc \
 && mkdir /work && chown appc:appc /work
COPY --from=terraform /usr/local/bin/terraform /usr/local/bin/terraform
COPY --from=builder /opt/appc /opt/appc
# Without a terminal (docker run without -it) appc is non-interactive: apply and destroy
# then need --auto-approve or a saved plan.
# The Terraform plugin cache goes under XDG_CACHE_HOME: writable whatever --user says.
ENV PATH=/opt/appc/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CACHE_HOME=/tmp/appc-cache
USER appc
WORKDIR /work
ENTRYPOINT ["appc"]
CMD ["--help"]
