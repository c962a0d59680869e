# syntax=docker/dockerfile:1
# ccmetrics: one image for `worker`, `simulate`, `publish` and `replay`.

# metrics/ compiled with mypyc (setup.py, CCMETRICS_COMPILE=1); the runtime image needs no compiler.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir mypy==2.4.1 "setuptools>=68" wheel
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY metrics ./metrics
COPY stream ./stream
RUN CCMETRICS_COMPILE=1 pip wheel --no-cache-dir --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
# jemalloc: the worker starts itself with it where installed (stream/allocator.py)
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*
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
