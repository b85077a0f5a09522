# syntax=docker/dockerfile:1
# The project image: every Kubeflow pipeline step runs in it, on GPU nodes (see README, "Cluster pipeline").
#   docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t REGISTRY/rgan:TAG .
# The base provides Python 3.11. torch comes from the package index at the version .ci/install pins: PyPI's Linux
# x86_64 wheel of torch 2.13.0 is the CUDA 13 build (it requires cuda-toolkit 13.0.3 and cuDNN 9.20; read from the
# index's metadata with `pip install --dry-run --report`), so the production image needs no CUDA base image.
# Offline builds (.ci/image) pass a local base that already holds the CPU build, and CHECK_CUDA=0.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ARG CHECK_CUDA=1

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

# torch: already satisfied on a base that holds it (the local one), a CUDA build from the index otherwise. Then fail
# the build, not a GPU job, when it cannot use CUDA (the check is off only for the local CPU test image).
RUN pip install --no-cache-dir torch==2.13.0 \
 && if [ "$CHECK_CUDA" = 1 ]; then python -c "import sys, torch; sys.exit(None if torch.version.cuda else 'torch has no CUDA support')"; fi

WORKDIR /opt/rgan
# Dependencies next: this layer changes only when the lock does. torch is not in the lock: the build above stays.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# the pipeline definitions ship in the wheel (rgan_pipelines, rgan_components: see setup.py)
COPY pipelines ./pipelines
COPY components ./components
RUN pip install --no-cache-dir --no-deps . && pip check

RUN useradd --create-home --uid 10001 rgan

# Last, so a new commit does not rebuild the layers above. Recorded on MLflow runs as rgan.git_commit.
# The RUN that reads the commit comes first: podman (buildah) reuses a cached ENV layer whose ARG value changed
# (containers/buildah#5501), so an ENV alone would keep an older build's commit; a RUN is keyed on its ARG values.
ARG GIT_COMMIT=unknown
RUN printf '%s\n' "$GIT_COMMIT" > /opt/rgan/GIT_COMMIT
ENV RGAN_GIT_COMMIT=${GIT_COMMIT}
USER 10001
WORKDIR /home/rgan

# KFP components replace the command with their Python executor; by hand: docker run IMAGE train --help
ENTRYPOINT ["rgan"]
CMD ["--help"]
