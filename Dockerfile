# One image for all our services; the command picks the service:
#   docker run voiceorder store-api serve
# Built in two stages so the final image holds the installed wheel, not the source tree.

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /app --create-home voiceorder
WORKDIR /app
USER voiceorder
ENTRYPOINT ["voiceorder"]
CMD ["--help"]
