# messaging-auth-emulator as a container: `docker build -t messaging-auth-emulator .`
#   docker run --rm -p 8080:8080 messaging-auth-emulator
#   docker run --rm -p 8080:8080 -v "$PWD/seed.yaml:/data/seed.yaml:ro" messaging-auth-emulator \
#       serve --host 0.0.0.0 --port 8080 --seed /data/seed.yaml --public-host localhost:8080
# Seed, state and TLS files go under the /data volume (--seed /data/seed.yaml, later --tls-cert /data/...).
# Arguments after the image name replace the whole CMD: repeat `serve --host 0.0.0.0 --port 8080`.
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY emulator ./emulator
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 emulator \
    && useradd --system --no-log-init --no-create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin emulator \
    && mkdir /data \
    && chown 10001:10001 /data

# numeric, so that `runAsNonRoot` (Kubernetes) can check it is not root
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080

# The slim image has no curl: Python's urllib asks the (token-free) health route; any error exits non-zero.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/__emulator/health', timeout=4)"]

ENTRYPOINT ["messaging-auth-emulator"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
