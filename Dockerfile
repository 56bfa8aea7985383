# Two images from one file. The default target (the last stage, `serve`) serves only: the service
# and the bundled model, no training code, no corpus, no matplotlib. `--target train` adds what
# retraining needs (training/, the corpus, matplotlib) and runs `python -m training train`.
# Dependencies are installed (from pyproject.toml, pinned by constraints.txt) before any code is
# copied, so editing code or retraining never reinstalls them. The final stages add only three
# filesystem layers (user, venv, app): on copy-on-write-less storage drivers (vfs) every layer is a
# full copy, so fewer layers build and start markedly faster. Classic builder syntax only (which
# builds every stage before the target, so the default build also builds, and caches, `train`).
FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml constraints.txt ./
# Empty packages stand in for the code so pip can resolve the project's dependencies now.
RUN mkdir service training && touch README.md service/__init__.py training/__init__.py \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt "." \
 && /opt/venv/bin/pip uninstall -y pakrel-classifier \
 && find /opt/venv -name "__pycache__" -path "*/tests/*" -prune -exec rm -rf {} +

FROM deps AS deps-train
RUN /opt/venv/bin/pip install -c constraints.txt ".[train]" \
 && /opt/venv/bin/pip uninstall -y pakrel-classifier \
 && find /opt/venv -name "__pycache__" -path "*/tests/*" -prune -exec rm -rf {} +

# The application files, gathered in empty stages (their layers cost nothing to build).
FROM scratch AS code
COPY service /app/service
COPY models /app/models

FROM code AS code-train
COPY training /app/training
COPY data/codebook.toml data/README.md /app/data/
COPY data/articles /app/data/articles

FROM python:3.11-slim AS train
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAKREL_MODEL_DIR=/app/models \
    PAKREL_FEEDBACK_DIR=/app/data/feedback \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
 && mkdir -p /app/data/feedback && chown -R app:app /app
COPY --from=deps-train /opt/venv /opt/venv
COPY --from=code-train --chown=app:app /app /app
WORKDIR /app
USER app
CMD ["python", "-m", "training", "train"]

FROM python:3.11-slim AS serve
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAKREL_MODEL_DIR=/app/models \
    PAKREL_FEEDBACK_DIR=/app/data/feedback
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
 && mkdir -p /app/data/feedback && chown -R app:app /app
COPY --from=deps /opt/venv /opt/venv
COPY --from=code --chown=app:app /app /app
WORKDIR /app
USER app
VOLUME ["/app/data/feedback"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"]
# PAKREL_WORKERS worker processes (default: the cores the container sees), one shared socket.
CMD ["python", "-m", "service.api.serve", "--host", "0.0.0.0", "--port", "8000"]
