FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY worker ./worker
COPY migrations ./migrations
# Flower (the `monitor` extra) serves the compose stack's optional queue monitor.
RUN pip install --no-cache-dir '.[monitor]' && useradd --create-home newsingest
USER newsingest
ENTRYPOINT ["newsingest"]
CMD ["--help"]
