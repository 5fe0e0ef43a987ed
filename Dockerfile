# CityOps application image (CPU only). `docker run -p 8050:8050 cityops` runs the demo;
# deploy/compose.yaml runs the same image as analytics consumers, dashboard and video
# workers against Apache Kafka and PostgreSQL.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CITYOPS_HOME=/data

# OpenCV's runtime libraries, and ffmpeg for the sample-media generator.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The source tree is what runs (models/, sample_media/, dashboard assets and pages are not
# all Python packages); `pip install .` only provides the `cityops` command.
ENV PYTHONPATH=/app
# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
COPY deps ./deps
RUN pip install -r requirements.txt

COPY . .
RUN pip install --no-deps --no-build-isolation . \
    && useradd --create-home --uid 1000 cityops \
    && mkdir -p /data && chown cityops /data
USER cityops

VOLUME /data
EXPOSE 8050
CMD ["cityops", "demo", "--host", "0.0.0.0"]
