# Multi-stage build of the sluice worker: a Rust build stage, then a small Debian runtime with a
# non-root user. Configure it like the Confluent cp-kafka-connect image: every CONNECT_* variable
# overrides a worker setting (CONNECT_BOOTSTRAP_SERVERS -> bootstrap.servers; see README).
#
#   docker build -t sluice .
#   docker run -p 8083:8083 -e CONNECT_BOOTSTRAP_SERVERS=kafka:9092 sluice

FROM rust:1-bookworm AS build
# librdkafka is built from source by the rdkafka crate: it needs a C toolchain and zlib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config zlib1g-dev make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sluice

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/sluice --create-home sluice \
    && mkdir -p /etc/sluice /etc/sluice/connectors
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
COPY configs/ /etc/sluice/
USER sluice
WORKDIR /var/lib/sluice
ENV CONNECT_LISTENERS=http://:8083 \
    CONNECT_OFFSET_STORAGE_FILE_FILENAME=/var/lib/sluice/connect.offsets
EXPOSE 8083
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["standalone", "/etc/sluice/connect-standalone.properties"]
