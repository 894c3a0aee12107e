# syntax=docker/dockerfile:1
# The homeml runtime image: one static-ish binary on distroless, non-root.
#   docker build -t homeml:latest .
# Model images add a bundle on top of it (`homeml build -m <uri> -o bundle/`, then `docker build bundle/`).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin homeml --config profile.release.debug=false \
    && strip target/release/homeml \
    && install -D -m 0755 target/release/homeml /out/homeml

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/homeml /usr/local/bin/homeml
USER 65532:65532
WORKDIR /home/nonroot
ENV MLFLOW_TRACKING_URI=/mlruns
EXPOSE 8080 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/homeml", "probe", "http://127.0.0.1:8080/ping"]
ENTRYPOINT ["/usr/local/bin/homeml"]
CMD ["serve", "--config", "/etc/homeml/serve.toml"]
