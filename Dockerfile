# messaging-auth-emulator as a container: `docker build -t messaging-auth-emulator .`
#   docker run --rm -p 8080:8080 messaging-auth-emulator
#   docker run --rm -p 8443:8443 -e EMULATOR_PORT=8443 -e EMULATOR_TLS_SELF_SIGNED=/data/tls \
#       -e EMULATOR_PUBLIC_HOST=localhost:8443 -v "$PWD/seed.yaml:/data/seed.yaml:ro" -e EMULATOR_SEED=/data/seed.yaml \
#       messaging-auth-emulator
# Configure it through EMULATOR_* variables (see `serve --help`): the healthcheck reads the same ones (port,
# http or https). Flags after the image name (`serve --port 9000`) still win, but the healthcheck cannot see them.
# Seed, state and TLS files go under the /data volume (EMULATOR_TLS_SELF_SIGNED=/data/tls writes the CA there).
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8080

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY emulator ./emulator
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 emulator \
    && useradd --system --no-log-init --no-create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin emulator \
    && mkdir -p /data/tls \
    && chown -R 10001:10001 /data

# numeric, so that `runAsNonRoot` (Kubernetes) can check it is not root
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080

# `health` asks the (token-free) health route at EMULATOR_PORT, over https when EMULATOR_TLS_* is set.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["messaging-auth-emulator", "health"]

ENTRYPOINT ["messaging-auth-emulator"]
CMD ["serve"]
