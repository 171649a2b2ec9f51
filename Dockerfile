# famfs-csi: one image for every role (controller, node plugin, pool FUSE servers, pool CLI).
#
#   docker build -t famfs-csi:dev .
#
# Stage 1 builds the native addon (node-gyp: python3, make, g++) and the TypeScript, then drops
# the dev dependencies. Stage 2 holds only what runs: Node.js, the built JavaScript, the addon,
# the CSI proto, production node_modules and util-linux mount/umount (the FUSE server execs
# /bin/mount -t fuse.famfs -o fd=N as root; no fusermount is needed).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY native ./native
# npm ci runs the package's install script (node-gyp rebuild) -> build/Release/famfs_dax.node.
RUN npm ci --no-audit --no-fund
COPY proto ./proto
COPY src ./src
RUN npx tsc -p tsconfig.json \
 && test -f dist/src/cli/main.js \
 && test -f build/Release/famfs_dax.node \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
# mount/umount (util-linux) are what the node plugin and the FUSE server exec.
RUN apt-get update \
 && apt-get install -y --no-install-recommends mount util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && test -x /bin/mount && test -x /bin/umount
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/build/Release/famfs_dax.node ./build/Release/famfs_dax.node
COPY --from=build /app/proto ./proto
# `famfs-csi` on PATH, for kubectl exec POD -- famfs-csi pool ls ...
RUN printf '#!/bin/sh\nexec node /app/dist/src/cli/main.js "$@"\n' > /usr/local/bin/famfs-csi \
 && chmod 0755 /usr/local/bin/famfs-csi
ENV NODE_ENV=production
# Root: the node plugin and the pool servers mount (privileged pods); the controller opens the
# pool device. The Helm chart drops what a role does not need (see charts/famfs-csi).
USER 0
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
