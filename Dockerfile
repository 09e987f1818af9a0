# waha-operator image: `waha-operator controller` (the default) and `waha-operator hub`.
#
# The build stage installs the packages with scripts/deps.sh and builds with `make build`, the
# same script and target as CI, so the image cannot drift from what the tests build. Tests and
# simulators are left out (WAHA_BUILD_TESTS=OFF). The runtime stage holds only the shared
# libraries the binary links (checked with ldd: cpprestsdk, yaml-cpp, prometheus-cpp core,
# OpenSSL, Boost.System, which a build without --as-needed trimming links; brotli and zlib come
# with libcpprest2.10) and runs as a non-root user.
#
#   docker build -t waha-operator:dev .

FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
# kubectl is a test dependency only: a placeholder keeps deps.sh (run again by `make build`)
# from installing it in this throw-away stage.
RUN ln -s /bin/true /usr/local/bin/kubectl && scripts/deps.sh
COPY . .
# Configure without the tests first; `make build` then reuses this build directory.
RUN rm -rf build \
    && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAHA_BUILD_TESTS=OFF \
    && make build \
    && strip --strip-debug -o /waha-operator build/operator/waha-operator

FROM debian:12-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
         ca-certificates libcpprest2.10 libyaml-cpp0.7 libprometheus-cpp-core1.0 libssl3 \
         libboost-system1.74.0 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
         --shell /usr/sbin/nologin nonroot
COPY --from=build /waha-operator /usr/local/bin/waha-operator
USER 65532:65532
# 8080: controller /metrics /healthz /readyz; 3000 and 8081: the hub's API and metrics.
EXPOSE 8080 3000 8081
ENTRYPOINT ["/usr/local/bin/waha-operator"]
CMD ["controller"]
