# syntax=docker/dockerfile:1
# kc-scim container image: a Rust builder stage, then a small non-root
# runtime (distroless: glibc and CA roots, no shell, no package manager).
#   docker build -t kc-scim .
#   docker run --rm -e KCSCIM_KEYCLOAK__URL=http://keycloak:8080 ... kc-scim serve

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is
# copied out of the cached target dir before the mount goes away.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin kc-scim \
    && install -D -m 0755 target/release/kc-scim /out/kc-scim

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/kc-scim /usr/local/bin/kc-scim
# Listen on every interface inside the container; log JSON lines to stderr.
ENV KCSCIM_HTTP__BIND=0.0.0.0:8090 \
    KCSCIM_LOG__FORMAT=json
EXPOSE 8090
# The distroless :nonroot user (uid 65532); numeric so a runtime can check it.
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["kc-scim", "healthcheck"]
ENTRYPOINT ["kc-scim"]
CMD ["serve"]
