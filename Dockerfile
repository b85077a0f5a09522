# syntax=docker/dockerfile:1
# The project image: every Kubeflow pipeline step runs in it, on GPU nodes (see README, "Cluster pipeline").
#   docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t REGISTRY/rgan:TAG .
# The base provides Python and a CUDA build of torch (the version .ci/install pins); the lock pins all the rest.
ARG BASE_IMAGE=pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

# Fail the build, not a GPU job, when the base image's torch cannot use CUDA.
RUN python -c "import sys, torch; sys.exit(None if torch.version.cuda else 'base image torch has no CUDA support')"

WORKDIR /opt/rgan
# Dependencies first: this layer changes only when the lock does. torch is not in the lock: the base's CUDA build stays.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# the pipeline definitions ship in the wheel (rgan_pipelines, rgan_components: see setup.py)
COPY pipelines ./pipelines
COPY components ./components
RUN pip install --no-cache-dir --no-deps . && pip check

RUN useradd --create-home --uid 10001 rgan
USER 10001
WORKDIR /home/rgan

# Last, so a new commit does not rebuild the layers above. Recorded on MLflow runs as rgan.git_commit.
ARG GIT_COMMIT=unknown
ENV RGAN_GIT_COMMIT=${GIT_COMMIT}

# KFP components replace the command with their Python executor; by hand: docker run IMAGE train --help
ENTRYPOINT ["rgan"]
CMD ["--help"]
