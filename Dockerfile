# syntax=docker/dockerfile:1
# ccmetrics: one image for `worker`, `simulate`, `publish` and `replay`.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY metrics ./metrics
COPY stream ./stream
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ccmetrics
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config/ccmetrics.toml /etc/ccmetrics/ccmetrics.toml
USER ccmetrics
WORKDIR /home/ccmetrics
ENV CCMETRICS_CONFIG=/etc/ccmetrics/ccmetrics.toml \
    CCMETRICS_DATA_DIR=/home/ccmetrics/data \
    PYTHONUNBUFFERED=1
EXPOSE 6066
ENTRYPOINT ["ccmetrics"]
CMD ["worker"]
