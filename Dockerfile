# The contact-center service. Asterisk runs in its own container (docker-compose.yml).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox libsox-fmt-base tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY contact_center ./contact_center
COPY autoinformer ./autoinformer
COPY asterisk_conf ./asterisk_conf
COPY ivr_scripts ./ivr_scripts
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --system --home /app --shell /usr/sbin/nologin cc \
    && mkdir -p /app/sounds /app/var && chown -R cc /app/sounds /app/var

ENV TZ=Asia/Krasnoyarsk \
    CC_SOUNDS_DIR=/app/sounds \
    CC_ASTERISK_CONF_DIR=/app/asterisk_conf \
    PYTHONUNBUFFERED=1
USER cc
# the fixed prompts are built into the image: a fresh `sounds` volume starts with them
RUN contact-center sounds build
# migrations are a step of their own before the loop starts (DESIGN.md)
CMD ["sh", "-c", "contact-center db upgrade && contact-center sounds build && exec contact-center serve"]
