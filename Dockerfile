# One image for the pipeline job, the Streamlit app and the Kubeflow components.
#   docker build -t ppq-tfx:1.0 .
#   docker run --rm -v "$PWD/outputs:/app/outputs" ppq-tfx:1.0 pipeline
#   docker run --rm -p 127.0.0.1:8502:8502 -e PPQ_APP__HOST=0.0.0.0 ppq-tfx:1.0 app
# Model serving is TensorFlow Serving's own image (docker-compose.yml).

# ---- build stage: the virtual environment, from the same lock file ./run.sh installs
FROM python:3.10.13-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
COPY requirements.lock requirements-excludes.txt ./
COPY scripts/install_env.sh scripts/
RUN python -m venv /opt/venv && scripts/install_env.sh /opt/venv requirements.lock

# ---- final stage: the venv and the code, no build or test tools, a non-root user
FROM python:3.10.13-slim-bookworm
ENV PPQ_VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TF_USE_LEGACY_KERAS=1
RUN useradd --create-home --uid 10001 --user-group ppq
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --chown=10001:10001 . .
RUN scripts/install_env.sh --project /opt/venv \
    && chmod 0755 run.sh && mkdir -p outputs && chown 10001:10001 outputs
USER 10001
EXPOSE 8502
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8502/_stcore/health', timeout=4)"]
ENTRYPOINT ["./run.sh"]
CMD ["app"]
