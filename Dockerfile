FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY worker ./worker
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --create-home newsingest
USER newsingest
ENTRYPOINT ["newsingest"]
CMD ["--help"]
